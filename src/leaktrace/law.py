"""Legal categories of personal information under Criminal Law art. 253-1 and the 2017
SPC/SPP interpretation (法释〔2017〕10号), art. 5.

The interpretation sets the record count that makes a sale "serious" by category:

* 50 records — whereabouts (行踪轨迹), communication content (通信内容), credit (征信),
  property (财产);
* 500 records — lodging (住宿), call records (通信记录), health and physiology (健康生理),
  transaction (交易) and other information that can affect personal or property safety;
* 5,000 records — any other personal information.

Each identifier and attribute type carries one of these categories; the tally (issue 7) counts
matched persons by the most sensitive category present. Information for investigators, not legal
advice.
"""

from __future__ import annotations

from enum import StrEnum


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
