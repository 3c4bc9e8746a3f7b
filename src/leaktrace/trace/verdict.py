"""The verdict on a leaked list: which release it came from, whether a person can be named, and
the bound on the chance that this is wrong (DESIGN.md, "Rules for a verdict").

* **not ours** — too few rows match the register for any attribution, and no decoy is in it;
* **inconclusive** — no release passes the corrected test;
* **shortlist** — several releases pass and nothing here tells them apart;
* **attributed** — one release passes: ``p × K ≤ α`` (Bonferroni over the K releases tested).
  Its recipient is *named* only when a decoy of that release is in the leak (one channel that
  is overwhelming on its own) or two independent channels pass on their own (keyed marks and
  the release set); otherwise the release is attributed and the person is left open.
  With no release passing, the access windows (:mod:`.access_windows`) may attribute the leak
  to users of the logs: ``p × U ≤ α`` over the U users tested shortlists a user, and a user is
  *named* on this one channel only when it is overwhelming, ``p × U ≤ α_alone`` (10⁻¹²). Two
  users may be named at once (a colluding pair that split one list).

The bound reported is the corrected p-value of the attributed release (0 with a decoy, whose
identifiers exist nowhere else): an upper bound on the chance that a leak that did not come
from that release would look at least this much like it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from leaktrace.trace.access_windows import Window
from leaktrace.trace.channels import Candidate

ALPHA = 1e-6  # false attribution allowed per case, over all releases tested
ALPHA_ALONE = 1e-12  # what one channel short of a decoy must reach to name a person alone
MIN_MATCHED = 5  # fewer rows of the register than this: "not ours"
OUTCOMES = ("attributed", "shortlist", "inconclusive", "not_ours")


@dataclass(frozen=True)
class Verdict:
    """What the evidence supports."""

    outcome: str
    release_id: str | None = None
    recipient: str | None = None
    person_named: bool = False
    bound: float | None = None
    shortlist: tuple[str, ...] = ()
    users: tuple[str, ...] = ()  # users of the access logs named
    reasons: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def decide(
    candidates: Sequence[Candidate],
    matched: int,
    windows: Sequence[Window] = (),
    alpha: float = ALPHA,
) -> Verdict:
    """The verdict for ``candidates`` (every release with its evidence) and ``windows`` (every
    user who touched a leaked customer) of a leak of which ``matched`` rows matched a register
    customer.

    >>> decide([], matched=2).outcome
    'not_ours'
    >>> decide([Candidate("R1", "telesales", decoys=1, matched=20)], matched=20).person_named
    True
    """
    if matched < MIN_MATCHED and not any(c.decoys for c in candidates):
        return Verdict(
            "not_ours",
            reasons=(f"only {matched} rows match a customer of the register (fewer than "
                     f"{MIN_MATCHED}): the list may not be ours",),
        )  # fmt: skip
    tested = max(1, len(candidates))
    passing = [c for c in candidates if c.pvalue * tested <= alpha]
    if not passing and windows:
        found = _by_access(windows, alpha)
        if found is not None:
            return found
    if not passing:
        best = min(candidates, key=lambda c: c.pvalue, default=None)
        why = "no release was recorded" if best is None else (
            f"the most likely release, {best.release_id}, has p = {best.pvalue:.3g} "
            f"(× {tested} releases tested), above α = {alpha:g}"
        )  # fmt: skip
        return Verdict("inconclusive", reasons=(why,))
    if len(passing) > 1 and not _one_with_decoys(passing):
        return Verdict(
            "shortlist",
            shortlist=tuple(c.release_id for c in passing),
            reasons=(
                f"{len(passing)} releases pass the test and cannot be told apart here: they share "
                "the leaked customers and no decoy or mark separates them; more leaked rows with "
                "their marked fields kept, or the access logs, would",
            ),
        )
    chosen = next((c for c in passing if c.decoys), passing[0])
    bound = min(1.0, chosen.pvalue * tested)
    channels = _channels(chosen, tested, alpha)
    named = bool(chosen.decoys) or len(channels) >= 2
    reasons = [f"{chosen.release_id} to {chosen.recipient}: " + "; ".join(channels)]
    users = [w for w in windows if w.pvalue * max(1, len(windows)) <= alpha]
    if users:
        reasons.append("users whose access covers the leak: " + _describe(users))
    if not named:
        reasons.append(
            "one channel only: the release is attributed, its recipient is not named; a decoy "
            "in more leaked rows or the access logs would say more"
        )
    return Verdict(
        "attributed",
        release_id=chosen.release_id,
        recipient=chosen.recipient,
        person_named=named,
        bound=bound,
        reasons=tuple(reasons),
    )


def _by_access(windows: Sequence[Window], alpha: float) -> Verdict | None:
    """A verdict from the access windows alone, or None when no user passes."""
    tested = max(1, len(windows))
    passing = [w for w in windows if w.pvalue * tested <= alpha]
    if not passing:
        return None
    named = [w for w in passing if w.pvalue * tested <= ALPHA_ALONE]
    if named:
        return Verdict(
            "attributed",
            person_named=True,
            users=tuple(w.staff_id for w in named),
            bound=min(1.0, max(w.pvalue for w in named) * tested),
            reasons=(f"no release explains the leak; access logs: {_describe(named)}",),
        )
    return Verdict(
        "shortlist",
        shortlist=tuple(w.staff_id for w in passing),
        reasons=(
            f"no release explains the leak; access logs: {_describe(passing)}; one channel "
            "only, not overwhelming: no one is named — more leaked rows would say more",
        ),
    )


def _describe(windows: Sequence[Window]) -> str:
    return "; ".join(
        f"{w.staff_id} touched {w.hits} of the {w.matched} leaked customers between "
        f"{w.first:%Y-%m-%d %H:%M} and {w.last:%Y-%m-%d %H:%M} (p = {w.pvalue:.3g}, "
        f"{w.touched:,} customers touched in all)"
        for w in windows
    )


def _one_with_decoys(passing: Sequence[Candidate]) -> bool:
    return sum(1 for c in passing if c.decoys) == 1


def _channels(candidate: Candidate, tested: int, alpha: float) -> list[str]:
    """The channels that pass on their own, as reasons."""
    found = []
    if candidate.decoys:
        found.append(f"{candidate.decoys} of its decoys are in the leak (they exist nowhere else)")
    if candidate.marks_pvalue * tested <= alpha:
        agreements = sum(c.agreements for c in candidate.marks.values())
        trials = sum(c.trials for c in candidate.marks.values())
        found.append(
            f"keyed marks agree in {agreements} of {trials} places "
            f"(p = {candidate.marks_pvalue:.3g})"
        )
    if candidate.members_pvalue * tested <= alpha:
        found.append(
            f"it holds {candidate.members} of the {candidate.matched} leaked customers "
            f"(p = {candidate.members_pvalue:.3g})"
        )
    return found
