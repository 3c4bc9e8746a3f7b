"""Release policies: per recipient role, which columns are masked, which channels are on, how
many decoys, which fields carry keyed marks. They live in the workspace's ``leaktrace.toml``::

    [release]
    decoy_rate = 0.03                        # share of decoy rows in a release
    decoy_phone_pool = ["13800138000"]       # numbers the institution owns, for decoys only

    [release.roles.telemarketing]
    mask = ["resident_id", "bank_card"]      # identifier types shown masked (1101**********123X)
    channels = ["subset", "decoys", "marks"]
    marks = "auto"                           # or a list of column names

A role without a section gets the defaults: nothing masked, every channel on, marks on every
column a mark rule accepts. Once ``[release.roles]`` defines any role, only those and
``default`` are accepted: a mistyped role must not release what its policy masks.

>>> policy = policy_for({"release": {"roles": {"partner": {"mask": ["bank_card"]}}}}, "partner")
>>> policy.mask, policy.decoy_rate, policy.channels
(('bank_card',), 0.03, ('subset', 'decoys', 'marks'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from leaktrace import identifiers
from leaktrace.exceptions import ConfigError

CHANNELS = ("subset", "decoys", "marks")
DEFAULT_DECOY_RATE = 0.03
DEFAULT_ROLE = "default"


@dataclass(frozen=True, slots=True)
class Policy:
    """How one release is made; recorded in the ledger with the release."""

    role: str
    mask: tuple[str, ...] = ()
    channels: tuple[str, ...] = CHANNELS
    decoy_rate: float = DEFAULT_DECOY_RATE
    marks: tuple[str, ...] | None = None  # None: every column a mark rule accepts
    decoy_phone_pool: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the ledger (the phone pool is summarized, not copied)."""
        data = asdict(self)
        data["decoy_phone_pool"] = len(self.decoy_phone_pool)
        return data


def policy_for(config: Mapping[str, Any], role: str) -> Policy:
    """The policy of ``role`` from a workspace configuration (``leaktrace.toml`` as parsed)."""
    release = _table(config.get("release", {}), "[release]")
    roles = _table(release.get("roles", {}), "[release.roles]")
    if roles and role not in roles and role != DEFAULT_ROLE:
        raise ConfigError(
            f"Role {role!r} has no policy: [release.roles] in leaktrace.toml defines "
            f"{', '.join(sorted(roles))}; use one of them, {DEFAULT_ROLE!r}, or add "
            f"[release.roles.{role}]."
        )
    section = _table(roles.get(role, {}), f"[release.roles.{role}]")
    where = f"[release.roles.{role}]" if role in roles else "[release]"
    mask = _strings(section.get("mask", []), f"{where} mask")
    unknown = [m for m in mask if m not in identifiers.registry()]
    if unknown:
        raise ConfigError(
            f"{where} mask: unknown identifier type {unknown[0]!r}; use one of "
            f"{', '.join(identifiers.registry())}."
        )
    channels = _strings(section.get("channels", list(CHANNELS)), f"{where} channels")
    if bad := [c for c in channels if c not in CHANNELS]:
        raise ConfigError(f"{where} channels: unknown channel {bad[0]!r}; use {CHANNELS}.")
    rate = section.get("decoy_rate", release.get("decoy_rate", DEFAULT_DECOY_RATE))
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 0.2:
        raise ConfigError(f"{where} decoy_rate must be a number from 0 to 0.2, not {rate!r}.")
    marks = section.get("marks", "auto")
    pool = _strings(release.get("decoy_phone_pool", []), "[release] decoy_phone_pool")
    return Policy(
        role=role,
        mask=mask,
        channels=channels,
        decoy_rate=float(rate),
        marks=None if marks == "auto" else _strings(marks, f"{where} marks"),
        decoy_phone_pool=_phone_pool(pool),
    )


def _phone_pool(numbers: tuple[str, ...]) -> tuple[str, ...]:
    mobile = identifiers.get("mobile")
    valid = []
    for number in numbers:
        if not mobile.is_valid(number):
            raise ConfigError(
                f"[release] decoy_phone_pool: {mobile.mask(number)} is not a valid mobile number."
            )
        valid.append(mobile.validate(number))
    return tuple(dict.fromkeys(valid))


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} in leaktrace.toml must be a table.")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} in leaktrace.toml must be a list of strings.")
    return tuple(value)
