"""Legal categories of personal information under Criminal Law art. 253-1 and the 2017
SPC/SPP interpretation (法释〔2017〕10号), art. 5.

The interpretation sets the record count that makes a sale "serious" by category:

* 50 records — whereabouts (行踪轨迹), communication content (通信内容), credit (征信),
  property (财产);
* 500 records — lodging (住宿), call records (通信记录), health and physiology (健康生理),
  transaction (交易) and other information that can affect personal or property safety;
* 5,000 records — any other personal information.

Each identifier and attribute type carries one of these categories; :func:`tally` counts
matched persons by the most sensitive category present, combines shortfalls across categories in
proportion, and says which thresholds are reached, ordinary and insider (half of each).
Information for investigators, not legal advice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class LegalCategory(StrEnum):
    """A category of the art. 5 thresholds; ``threshold`` is the ordinary "serious" count."""

    WHEREABOUTS = "whereabouts"
    COMMUNICATION_CONTENT = "communication_content"
    CREDIT = "credit"
    PROPERTY = "property"
    LODGING = "lodging"
    CALL_RECORDS = "call_records"
    HEALTH = "health"
    TRANSACTION = "transaction"
    OTHER = "other"

    @property
    def threshold(self) -> int:
        """Records that make a sale "serious" (ordinary case; an insider faces half)."""
        return _THRESHOLDS[self]

    @property
    def label(self) -> str:
        """The category's name in the interpretation."""
        return _LABELS[self]


_THRESHOLDS = {
    LegalCategory.WHEREABOUTS: 50,
    LegalCategory.COMMUNICATION_CONTENT: 50,
    LegalCategory.CREDIT: 50,
    LegalCategory.PROPERTY: 50,
    LegalCategory.LODGING: 500,
    LegalCategory.CALL_RECORDS: 500,
    LegalCategory.HEALTH: 500,
    LegalCategory.TRANSACTION: 500,
    LegalCategory.OTHER: 5000,
}

_LABELS = {
    LegalCategory.WHEREABOUTS: "行踪轨迹信息",
    LegalCategory.COMMUNICATION_CONTENT: "通信内容",
    LegalCategory.CREDIT: "征信信息",
    LegalCategory.PROPERTY: "财产信息",
    LegalCategory.LODGING: "住宿信息",
    LegalCategory.CALL_RECORDS: "通信记录",
    LegalCategory.HEALTH: "健康生理信息",
    LegalCategory.TRANSACTION: "交易信息",
    LegalCategory.OTHER: "其他公民个人信息",
}


SEVERITY_ORDER = tuple(
    sorted(LegalCategory, key=lambda c: (c.threshold, list(LegalCategory).index(c)))
)
ESPECIALLY_SERIOUS = 10  # "especially serious" is ten times the "serious" count (art. 6)


def most_sensitive(categories: Iterable[LegalCategory | str | None]) -> LegalCategory | None:
    """The category with the lowest "serious" threshold among ``categories``.

    >>> most_sensitive(["other", "property", None]).value
    'property'
    """
    present = {LegalCategory(c) for c in categories if c is not None}
    return min(present, key=SEVERITY_ORDER.index, default=None)


@dataclass(frozen=True, slots=True)
class Tally:
    """Distinct persons per category and where they stand against art. 5's thresholds.

    ``share`` is the proportional combination Σ persons / threshold (1.0 reaches "serious");
    an insider (information obtained in performing duties or providing services) faces half of
    every threshold, so twice the share. Information for investigators, not legal advice.
    """

    persons: dict[LegalCategory, int]

    @property
    def total(self) -> int:
        """Distinct persons counted."""
        return sum(self.persons.values())

    @property
    def share(self) -> float:
        """Σ persons / "serious" threshold, over the categories (ordinary thresholds)."""
        return sum(n / c.threshold for c, n in self.persons.items())

    def reached(self, insider: bool) -> str | None:
        """``"especially serious"``, ``"serious"`` or None, with ordinary or insider thresholds."""
        share = self.share * (2 if insider else 1)
        if share >= ESPECIALLY_SERIOUS:
            return "especially serious"
        return "serious" if share >= 1 else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: persons and threshold per category, the shares and what is reached."""
        return {
            "persons": {
                c.value: {"label": c.label, "persons": n, "threshold": c.threshold,
                          "insider_threshold": c.threshold / 2}
                for c, n in sorted(self.persons.items(), key=lambda i: SEVERITY_ORDER.index(i[0]))
            },
            "total": self.total,
            "share": self.share,
            "insider_share": 2 * self.share,
            "ordinary": self.reached(insider=False),
            "insider": self.reached(insider=True),
        }  # fmt: skip


def tally(categories: Iterable[LegalCategory | str | None]) -> Tally:
    """The tally of a leak: one category per distinct person (the most sensitive their records
    hold; art. 11 counts a multi-field row about one person as one record).

    >>> t = tally(["credit"] * 30 + ["other"] * 2000)
    >>> round(t.share, 2), t.reached(insider=False), t.reached(insider=True)
    (1.0, 'serious', 'serious')
    >>> tally(["other"] * 100).reached(insider=True) is None
    True
    """
    counts: dict[LegalCategory, int] = {}
    for category in categories:
        if category is not None:
            chosen = LegalCategory(category)
            counts[chosen] = counts.get(chosen, 0) + 1
    return Tally(counts)
