"""Peer: Microsoft Presidio's AnalyzerEngine over one text per line (run in benchmarks/.venv-peers).

Settings as in ../shared/PEERS.md: the no-op NLP engine (Presidio's fastest, no model download),
pattern recognizers for the Chinese types with the same checks leaktrace makes (GB 11643, Luhn),
plus Presidio's built-in email and credit-card recognizers. Each text is one ``analyze`` call, as
Presidio is used. Writes JSON: wall and CPU seconds spent analyzing, and the spans found.

usage: presidio_scan.py TEXTS.txt OUT.json
"""

from __future__ import annotations

import json
import logging
import sys
import time

from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer

W = [pow(2, 17 - i, 11) for i in range(17)]
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE = rf"[{PROVINCES}][A-HJ-NP-Z][·\- ]?[A-HJ-NP-Z0-9]{{5,6}}"


class ResidentIdRecognizer(PatternRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        text = pattern_text.upper()
        total = sum(int(c) * w for c, w in zip(text[:17], W, strict=True))
        return "10X98765432"[total % 11] == text[17]


class UnionPayRecognizer(PatternRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        return total % 10 == 0


def recognizers() -> list[PatternRecognizer]:
    return [
        PatternRecognizer(
            supported_entity="CN_MOBILE",
            supported_language="zh",
            patterns=[
                Pattern("mobile", r"(?<![0-9])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9])", 0.6)
            ],
        ),
        ResidentIdRecognizer(
            supported_entity="CN_RESIDENT_ID",
            supported_language="zh",
            patterns=[Pattern("ric", r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])", 0.6)],
        ),
        UnionPayRecognizer(
            supported_entity="CN_BANK_CARD",
            supported_language="zh",
            patterns=[Pattern("card", r"(?<![0-9])62[0-9]{14,17}(?![0-9])", 0.5)],
        ),
        PatternRecognizer(
            supported_entity="CN_PLATE",
            supported_language="zh",
            patterns=[
                Pattern(
                    "plate",
                    PLATE,
                    0.5,
                )
            ],
        ),
        EmailRecognizer(supported_language="zh"),
        CreditCardRecognizer(supported_language="zh"),
    ]


def _no_op() -> NoOpNlpEngine:
    engine = NoOpNlpEngine(models=[{"lang_code": "zh", "model_name": "none"}])
    engine.load()
    return engine


def main() -> None:
    # tldextract (behind the email recognizer) tries to download the public-suffix list, fails
    # on this offline machine and falls back to its bundled snapshot; keep its traceback quiet.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    with open(sys.argv[1], encoding="utf-8") as file:
        texts = file.read().split("\n")
    registry = RecognizerRegistry(supported_languages=["zh"])
    for recognizer in recognizers():
        registry.add_recognizer(recognizer)
    engine = AnalyzerEngine(registry=registry, nlp_engine=_no_op(), supported_languages=["zh"])
    engine.analyze(texts[0] or "x", language="zh")  # warm-up
    spans = []
    started, cpu = time.perf_counter(), time.process_time()
    for line, text in enumerate(texts):
        for r in engine.analyze(text, language="zh"):
            spans.append((line, r.start, r.end, r.entity_type))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with open(sys.argv[2], "w") as file:
        json.dump({"seconds": seconds, "cpu_seconds": cpu, "spans": spans}, file)


if __name__ == "__main__":
    main()
