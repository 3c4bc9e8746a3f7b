"""Errors leaktrace raises.

Two families:

* ``LeaktraceError`` is for what a *user* can fix: a file that cannot be read, a wrong URL, a
  missing key. Its message is one line that says what is wrong and what to do. Only the CLI
  turns it into an exit code (``exit_code``).
* ``ValidationError`` (a ``ValueError``) is for a single *value* that is not a valid identifier,
  as in python-stdnum: ``InvalidFormat``, ``InvalidLength``, ``InvalidChecksum``,
  ``InvalidComponent``. Callers usually catch it and move on.

Messages never carry a raw identifier: mask before you raise.
"""

from __future__ import annotations


class LeaktraceError(Exception):
    """Something the user can fix; the message says what and how."""

    exit_code = 1


class SourceError(LeaktraceError):
    """An input source cannot be opened or read (missing, unreadable, corrupt, wrong kind)."""

    exit_code = 3


class ConfigError(LeaktraceError):
    """Options or configuration that do not make sense together."""

    exit_code = 2


class WorkspaceError(LeaktraceError):
    """The workspace cannot be used: missing, in use, made by a newer leaktrace, or a wrong key."""

    exit_code = 4


class LedgerError(LeaktraceError):
    """The ledger fails verification: an entry was edited, deleted, reordered or forged."""

    exit_code = 5


class ValidationError(ValueError):
    """A value is not a valid identifier of the asked type."""

    message = "The value is not valid."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class InvalidFormat(ValidationError):
    message = "The value has an invalid format."


class InvalidLength(InvalidFormat):
    message = "The value has an invalid length."


class InvalidChecksum(ValidationError):
    message = "The value's checksum or check digit is invalid."


class InvalidComponent(ValidationError):
    message = "One of the parts of the value is invalid (region, date, prefix …)."
