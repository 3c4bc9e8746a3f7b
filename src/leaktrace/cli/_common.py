"""What every command shares: output options, error handling, consoles and progress bars."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from leaktrace.exceptions import LeaktraceError, WorkspaceError

if TYPE_CHECKING:
    from leaktrace import store

JsonOption = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print results as CSV on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="LEAKTRACE_WORKSPACE",
        help="The workspace folder (made by `leaktrace init`) [default: the current folder].",
        show_default=False,
    ),
]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # Rich would exit 1 without a word; handle_errors ends it as a closed pipe instead.
        raise BrokenPipeError


stdout = _Console(soft_wrap=True)
stderr = _Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE, as the shell reports a program stopped by it


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    stderr.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """Print one warning line on stderr (the command goes on)."""
    stderr.print(f"warning: {message}", markup=False, highlight=False)


def handle_errors(command: F) -> F:
    """Turn the library's user-fixable errors into one line and their exit code; so too what
    the system refuses (a folder that cannot be written, a full disk) and a store that fails
    to read part way through a command."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeaktraceError as error:
            fail(str(error), error.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            # The reader of the output stopped (`| head`): nothing wrong to report, and the
            # exit status of a program its pipe's SIGPIPE stops.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise typer.Exit(EXIT_CLOSED_PIPE) from None
        except OSError as error:
            fail(os_message(error))
        except Exception as error:
            if not _store_damaged(error):
                raise
            fail(
                f"the workspace's store could not be read ({str(error).splitlines()[0]}); if it "
                "is damaged, restore leaktrace.duckdb from a backup",
                WorkspaceError.exit_code,
            )

    return wrapper  # type: ignore[return-value]


def os_message(error: OSError) -> str:
    """One line for what the system refused: the path, the reason, what to do.

    >>> os_message(PermissionError(13, "Permission denied", "/srv/out"))
    '/srv/out: permission denied; check its permissions'
    >>> os_message(OSError(28, "No space left on device", "/srv/out/r.csv"))
    '/srv/out/r.csv: no space left on device; free some space and run again'
    """
    reason = (error.strerror or str(error)).rstrip(".")
    reason = reason[:1].lower() + reason[1:]
    where = "" if error.filename is None else f"{error.filename}: "
    if error.filename2 is not None:
        where = f"{error.filename} → {error.filename2}: "
    advice = _OS_ADVICE.get(error.errno, "check the path and its permissions")
    return f"{where}{reason}; {advice}"


_OS_ADVICE = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENOSPC: "free some space and run again",
    errno.EDQUOT: "free some space and run again",
    errno.EEXIST: "choose another path",
    errno.ENOTDIR: "choose a folder, not a file",
    errno.EISDIR: "name a file, not a folder",
    errno.ENOENT: "check the path",
    errno.EROFS: "choose a writable place",
}


def _store_damaged(error: Exception) -> bool:
    """DuckDB's input/output error: the store file failed to read or write mid-command (a
    source file's errors are turned into SourceError where it is read)."""
    kind = type(error)
    return kind.__module__.startswith(("duckdb", "_duckdb")) and kind.__name__ == "IOException"


def print_json(data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr, shown only when stderr is a terminal and ``enabled``."""
    if not enabled or not stderr.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    with bar:
        yield bar


def summarise_for_trace(ws: store.Workspace, bar: Progress | None) -> None:
    """After a load of customers or events: make the touch summary trace reads current
    (:func:`leaktrace.trace.access_windows.prepare`), so that the next trace does not wait."""
    from leaktrace.trace import access_windows  # here: every command imports this module

    if bar is not None:
        bar.add_task("summarising accesses for trace", total=None)
    access_windows.prepare(ws)
