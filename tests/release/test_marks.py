"""Keyed marks: determinism, equivalence of forms, untouched identifiers, types after a CSV round
trip, and the binomial test from a 20-row sample."""

from __future__ import annotations

import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from leaktrace import keys, synth
from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import address
from leaktrace.release import marks

RING = keys.Keyring(bytes(range(32)))
MARK_KEY = RING.key("mark")
FIELDS = {"address": "address", "hukou": "address", "loan_balance": "amount",
          "credit_limit": "amount", "products": "list_order"}  # fmt: skip
NEEDED = ("customer_id", "name", "id_number", "mobile", "email", "plate", "card_number",
          "birth_date", "open_date", "gender", "branch_code", "branch_name")  # fmt: skip


@pytest.fixture(scope="module")
def bank() -> pa.Table:
    return synth.customers(3000, seed=11)


@pytest.fixture(scope="module")
def tokens(bank: pa.Table) -> pa.Array:
    return keys.tokens(RING.key("match"), "customer", bank["customer_id"])


@pytest.fixture(scope="module")
def marked(bank: pa.Table, tokens: pa.Array) -> pa.Table:
    return marks.mark_table(MARK_KEY, "R-1", tokens, bank, FIELDS)


def test_siphash_reference_vectors() -> None:
    # Aumasson-Bernstein reference vectors, key 00..0f, message 00..0f (n = 16) and a second key.
    message = np.frombuffer(bytes(range(16)), dtype="<u8").reshape(1, 2)
    assert int(marks.siphash24_16(bytes(range(16)), message)[0]) == 0x3F2ACC7F57C29BDB
    other = bytes(range(16, 32))
    assert marks.siphash24_16(other, message)[0] != marks.siphash24_16(bytes(range(16)), message)[0]


BINOMIAL_CASES = [(0, 5, 0.5), (3, 10, 0.5), (20, 20, 1 / 9), (7, 40, 0.25), (41, 40, 0.5),
                  (150, 1000, 0.111)]  # fmt: skip


@pytest.mark.parametrize(("k", "n", "p"), BINOMIAL_CASES)
def test_mark_pvalue_is_the_binomial_tail(k: int, n: int, p: float) -> None:
    count = marks.MarkCount("address", "address", k, n, round(1 / p))
    assert count.pvalue == pytest.approx(stats.binom.sf(k - 1, n, 1 / count.q), rel=1e-9)


def test_deterministic(bank: pa.Table, tokens: pa.Array, marked: pa.Table) -> None:
    assert marks.mark_table(MARK_KEY, "R-1", tokens, bank, FIELDS).equals(marked)


def test_needed_values_and_types_unchanged(bank: pa.Table, marked: pa.Table) -> None:
    assert marked.schema.equals(bank.schema)
    for column in NEEDED:
        assert marked[column].equals(bank[column]), column
    for column in FIELDS:
        assert marked[column].null_count == bank[column].null_count


def test_forms_mean_the_same(bank: pa.Table, marked: pa.Table) -> None:
    changed = 0
    for old, new in zip(bank["address"].to_pylist(), marked["address"].to_pylist(), strict=True):
        if old != new:
            changed += 1
            assert address.parse(old) == address.parse(new)
            assert old.rstrip("室").endswith(new.rstrip("室")[-4:])
    assert changed > len(bank) // 2
    for old, new in zip(bank["products"].to_pylist(), marked["products"].to_pylist(), strict=True):
        assert sorted(old.split("、")) == sorted(new.split("、"))
    for old, new in zip(
        bank["loan_balance"].to_pylist(), marked["loan_balance"].to_pylist(), strict=True
    ):
        if old is None:
            continue
        assert abs(old - new) <= Decimal("0.08")
        assert (old % 1 == 0) == (new % 1 == 0)
        if old * 100 % 10 == 0:
            assert new == old  # round values never change
        else:
            assert new * 100 % 10 != 0
    assert marked["credit_limit"].equals(bank["credit_limit"])  # all whole hundreds


def test_original_among_the_forms(bank: pa.Table, tokens: pa.Array) -> None:
    # Any release id: each value is one of its forms, and the unmarked value reads as one too.
    rule = marks.rule("address")
    values = bank["address"].combine_chunks()
    available, current = rule.observe(values)
    assert available.any(axis=1).mean() > 0.9
    assert np.array_equal(rule.observe(rule.render(values, current))[1], current)
    for release in ("A", "B", "C"):
        again = marks.mark_table(MARK_KEY, release, tokens, bank, {"address": "address"})
        after_available, _ = rule.observe(again["address"].combine_chunks())
        assert np.array_equal(after_available, available)


def test_csv_round_trip_keeps_columns_and_dtypes(bank: pa.Table, marked: pa.Table) -> None:
    def through_csv(table: pa.Table) -> pd.DataFrame:
        sink = io.BytesIO()
        pacsv.write_csv(table, sink)
        return pd.read_csv(io.BytesIO(sink.getvalue()), dtype={"id_number": str, "mobile": str,
                                                               "card_number": str,
                                                               "branch_code": str})  # fmt: skip

    plain, stamped = through_csv(bank), through_csv(marked)
    assert list(stamped.columns) == list(plain.columns)
    assert stamped.dtypes.equals(plain.dtypes)
    for column in ("name", "id_number", "mobile", "card_number", "plate", "email"):
        assert stamped[column].equals(plain[column])


def test_text_columns_marked_like_typed_ones(bank: pa.Table, tokens: pa.Array) -> None:
    text = bank.cast(pa.schema([pa.field(f.name, pa.string()) for f in bank.schema]))
    typed = marks.mark_table(MARK_KEY, "R-1", tokens, bank, FIELDS)
    as_text = marks.mark_table(MARK_KEY, "R-1", tokens, text, FIELDS)
    for column in FIELDS:
        assert as_text[column].equals(typed[column].cast(pa.string())), column


def test_two_releases_disagree_at_one_minus_one_over_q(bank: pa.Table, tokens: pa.Array) -> None:
    for field, rule_name in FIELDS.items():
        rule = marks.rule(rule_name)
        one = marks.mark_table(MARK_KEY, "R-1", tokens, bank, {field: rule_name}, check=False)
        two = marks.mark_table(MARK_KEY, "R-2", tokens, bank, {field: rule_name}, check=False)
        available, first = rule.observe(one[field].combine_chunks())
        _, second = rule.observe(two[field].combine_chunks())
        trials = int(available.sum())
        if not trials:
            continue
        differ = int((available & (first != second)).sum())
        expected = 1 - 1 / rule.q
        # Within five standard deviations of the binomial.
        assert abs(differ / trials - expected) < 5 * np.sqrt(expected / rule.q / trials), field


def test_read_marks_from_a_sample(marked: pa.Table, tokens: pa.Array) -> None:
    rng = np.random.default_rng(5)
    rows = pa.array(np.sort(rng.choice(len(marked), 20, replace=False)))
    sample, sample_tokens = marked.take(rows), tokens.take(rows)
    right = marks.read_marks(MARK_KEY, "R-1", sample_tokens, sample, FIELDS)
    assert all(c.agreements == c.trials for c in right.values())
    assert sum(c.trials for c in right.values()) >= 40
    assert max(c.pvalue for c in right.values() if c.trials) < 1e-4
    # Wrong releases: agreements near trials / q, and p-values uniform-ish (never tiny).
    totals = np.zeros(2)
    for release in [f"other-{i}" for i in range(40)]:
        wrong = marks.read_marks(MARK_KEY, release, sample_tokens, sample, FIELDS)
        totals += [sum(c.agreements for c in wrong.values()),
                   sum(c.trials / c.q for c in wrong.values())]  # fmt: skip
        assert min(c.pvalue for c in wrong.values()) > 1e-5
    assert abs(totals[0] - totals[1]) < 5 * np.sqrt(totals[1])


def test_unmarkable_values_give_no_trial(tokens: pa.Array) -> None:
    table = pa.table({"amount": ["100.00", "12000", "0.50", None], "addr": ["北京", "无", None,
                                                                       "某某路1号"]})  # fmt: skip
    counts = marks.read_marks(MARK_KEY, "R", tokens.slice(0, 4), table,
                              {"amount": "amount", "addr": "address"})  # fmt: skip
    assert counts["amount"].trials == 0 and counts["addr"].trials == 0
    again = marks.mark_table(MARK_KEY, "R", tokens.slice(0, 4), table,
                             {"amount": "amount", "addr": "address"})  # fmt: skip
    assert again.equals(table)


def test_rows_without_token_unmarked(bank: pa.Table) -> None:
    table = bank.slice(0, 50)
    nulls = pa.nulls(50, pa.binary(16))
    assert marks.mark_table(MARK_KEY, "R", nulls, table, FIELDS).equals(table)


def test_identifier_columns_refused(bank: pa.Table, tokens: pa.Array) -> None:
    for column in ("mobile", "name", "id_number", "card_number"):
        with pytest.raises(ConfigError, match="never marked"):
            marks.mark_table(MARK_KEY, "R", tokens, bank, {column: "amount"})
    with pytest.raises(ConfigError, match="Unknown mark rule"):
        marks.mark_table(MARK_KEY, "R", tokens, bank, {"address": "date_format"})
    with pytest.raises(ConfigError, match="No column"):
        marks.mark_table(MARK_KEY, "R", tokens, bank, {"nope": "amount"})


def test_suggested_policy_never_names_identifiers(bank: pa.Table) -> None:
    policy = marks.suggest_fields(bank)
    assert {"address", "loan_balance", "products"} <= set(policy)
    assert not set(policy) & set(NEEDED)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-10**9, 10**9)), min_size=1, max_size=30),
       st.sampled_from([pa.int64(), pa.decimal128(15, 2), pa.float64(), pa.string()]))  # fmt: skip
@example([None, 107391911], pa.float64())  # once read as 1073919.1: a too-loose float tolerance
def test_amounts_keep_type_and_roundness(numbers: list[int | None], type_: pa.DataType) -> None:
    if type_ == pa.decimal128(15, 2):
        values = pa.array([None if v is None else Decimal(v) / 100 for v in numbers], type_)
    elif type_ == pa.float64():
        values = pa.array([None if v is None else v / 100 for v in numbers], type_)
    elif type_ == pa.string():
        values = pa.array([None if v is None else f"{v / 100:.2f}" for v in numbers], type_)
    else:
        values = pa.array(numbers, type_)
    table = pa.table({"x": values})
    tokens = keys.tokens(MARK_KEY, "t", [str(i) for i in range(len(values))])
    marked = marks.mark_table(MARK_KEY, "R", tokens, table, {"x": "amount"}, check=False)
    assert marked.schema.equals(table.schema)
    rule = marks.rule("amount")
    before, _ = rule.observe(values)
    after, _ = rule.observe(marked["x"].combine_chunks())
    assert np.array_equal(before, after)
    unchanged = ~before[:, 0]
    assert (
        marked["x"]
        .combine_chunks()
        .filter(pa.array(unchanged))
        .equals(values.filter(pa.array(unchanged)))
    )


def test_the_heads_kept_in_the_cache_are_the_heads_built(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEAKTRACE_CACHE", str(tmp_path))
    built = marks._build_heads()
    for _ in range(2):  # written to the cache folder, then read from it
        marks._heads.cache_clear()
        kept = marks._heads()
        assert kept.texts.equals(built.texts)
        for name in ("chars", "has_p", "has_c", "form_p", "form_c", "variant", "ending",
                     "slot_hashes", "slot_heads"):  # fmt: skip
            assert np.array_equal(getattr(kept, name), getattr(built, name)), name
        assert kept.max_chars == built.max_chars
    assert list(tmp_path.glob("mark-heads-*.pickle"))
    marks._heads.cache_clear()


def test_every_address_head_reads_back_as_written() -> None:
    """Every head with slots, in every form, is read back with the forms it was written in, and
    names the same province, city and county (a sample is checked with the address parser)."""
    heads = marks._heads()
    with_slots = np.flatnonzero(heads.has_p | heads.has_c)
    assert with_slots.size > 3000
    texts = heads.texts.take(pa.array(with_slots)).to_pylist()
    values = pa.array([t + "人民路1号3栋2单元1502室" for t in texts])
    rule = marks.AddressRule()
    available, current = rule.observe(values)
    for p in (0, 1):
        for c in (0, 1):
            wanted = np.where(available, np.array([p, c, 1]), current)
            written = rule.render(values, wanted)
            seen_available, seen = marks.AddressRule().observe(written)
            assert np.array_equal(seen_available, available)
            assert np.array_equal(seen, wanted)
            if (p, c) == (1, 1):
                rng = np.random.default_rng(0)
                for i in rng.choice(len(values), 300, replace=False):
                    before, after = values[int(i)].as_py(), written[int(i)].as_py()
                    assert address.parse(before) == address.parse(after), (before, after)
