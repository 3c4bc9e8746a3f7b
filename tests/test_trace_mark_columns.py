"""A broker's renamed columns still carry a release's keyed marks (leaktrace.trace.mark_columns):
the renamed field is read from the column that holds its values, and the choice is paid for
in the p-value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from leaktrace import customers, keys, synth, tails
from leaktrace.release import marks
from leaktrace.trace import bulk_marks, mark_columns
from leaktrace.trace.bulk_marks import FieldRead

MARK_KEY = keys.Keyring(bytes(range(32))).key("mark")
FIELDS = {"address": "address", "hukou": "address", "loan_balance": "amount",
          "credit_limit": "amount", "products": "list_order"}  # fmt: skip
SOLD = ["name", "mobile", "address", "loan_balance", "credit_limit", "products"]
RENAMED = ["客户姓名", "联系电话", "住址", "贷款", "额度", "产品"]
IDENTIFYING = ["name", "mobile", "客户姓名", "联系电话"]


@pytest.fixture(scope="module")
def marked() -> tuple[pa.Table, pa.Array]:
    bank = synth.customers(600, seed=21)
    tokens = customers.record_tokens(pa.array(np.arange(1, 601), pa.int64()))
    return marks.mark_table(MARK_KEY, "R000001", tokens, bank, FIELDS).select(SOLD), tokens


def _read(leak: pa.Table, tokens: pa.Array) -> dict[FieldRead, marks.MarkCount]:
    (reads,) = mark_columns.locate(leak, IDENTIFYING, [FIELDS])
    everyone = np.arange(leak.num_rows)
    (counts,) = bulk_marks.read_many(
        MARK_KEY, leak, tokens, [reads], np.zeros_like(everyone), everyone, ["R000001"]
    )
    return counts


def test_a_renamed_field_reads_what_its_own_name_reads(marked) -> None:
    leak, tokens = marked
    by_name, by_name_columns, by_name_choices = mark_columns.best(_read(leak, tokens))
    assert set(by_name_columns.items()) == {(f, f) for f in FIELDS if f in SOLD}
    assert by_name_choices == 1
    renamed, columns, choices = mark_columns.best(_read(leak.rename_columns(RENAMED), tokens))
    assert columns["address"] == "住址" and columns["loan_balance"] == "贷款"
    assert columns.get("products") == "产品"
    assert not set(columns.values()) & {"客户姓名", "联系电话"}  # identifiers are never read
    for field in ("address", "loan_balance", "products"):
        assert renamed[field] == by_name[field]
        assert renamed[field].agreements == renamed[field].trials > 50
    # hukou could read 住址 too, but 住址 is address's; it is left out, and the choice is paid
    assert "hukou" not in columns
    assert 1 < choices <= 64


def test_the_best_read_keeps_each_column_for_one_field_and_counts_the_outcomes() -> None:
    def count(field: str, agreements: int, trials: int, q: int = 2) -> marks.MarkCount:
        return marks.MarkCount(field, "address" if q == 2 else "amount", agreements, trials, q)

    counts = {
        FieldRead("address", "住址", "address"): count("address", 60, 60),
        FieldRead("hukou", "住址", "address"): count("hukou", 31, 60),
        FieldRead("hukou", "籍贯", "address"): count("hukou", 25, 50),
        FieldRead("loan_balance", "贷款", "amount"): count("loan_balance", 9, 9, q=9),
        FieldRead("loan_balance", "收入", "amount"): count("loan_balance", 2, 9, q=9),
        FieldRead("credit_limit", "credit_limit", "amount"): count("credit_limit", 1, 9, q=9),
    }
    chosen, columns, choices = mark_columns.best(counts)
    assert columns == {"address": "住址", "hukou": "籍贯", "loan_balance": "贷款",
                       "credit_limit": "credit_limit"}  # fmt: skip
    assert chosen["hukou"].agreements == 25
    # address: 1 column, or left out (住址 is also hukou's); hukou: 2 or out; loan: 2; credit: 1
    assert choices == 2 * 3 * 2 * 1


def test_choosing_among_columns_keeps_the_false_accusation_bound() -> None:
    """Under "not this release" every read agrees by chance (1/q); the best of several columns,
    times the outcomes counted, is still a valid p-value: P(p <= a) <= a."""
    rng = np.random.default_rng(5)
    alpha, trials, hits = 0.05, 4_000, 0
    for _ in range(trials):
        counts = {}
        for field in ("address", "hukou"):
            for column in ("住址", "籍贯", "地址"):
                n = int(rng.integers(5, 40))
                counts[FieldRead(field, column, "address")] = marks.MarkCount(
                    field, "address", int(rng.binomial(n, 0.5)), n, 2
                )
        chosen, _, choices = mark_columns.best(counts)
        tail = tails.sum_of_binomials_tail(
            [(c.agreements, c.trials, 1 / c.q) for c in chosen.values()]
        )
        hits += min(1.0, choices * tail) <= alpha
    assert hits / trials <= alpha
