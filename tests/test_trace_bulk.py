"""What makes trace fast at a bank's scale gives the answers of the one-at-a-time reference:
exact binomial tails from shared log-factorials (leaktrace.tails), keyed marks of many
releases read at once (leaktrace.trace.bulk_marks), members of every release in one query."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from leaktrace import customers, keys, store, synth, tails
from leaktrace.release import marks
from leaktrace.trace import bulk_marks, channels

RING = keys.Keyring(bytes(range(32)))
MARK_KEY = RING.key("mark")
FIELDS = {"address": "address", "loan_balance": "amount", "credit_limit": "amount",
          "products": "list_order"}  # fmt: skip


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 5, 0.5), (3, 10, 0.5), (20, 20, 1 / 9), (7, 40, 0.25), (41, 40, 0.5), (150, 1000, 0.111),
     (2, 10_000, 1e-4), (9_000, 10_000, 0.5), (4, 10_000, 3e-7), (30, 50_000, 0.3),
     (5_000, 20_000, 0.25)],
)  # fmt: skip
def test_binomial_tail_is_the_exact_tail(k: int, n: int, p: float) -> None:
    # Reference: every tail term summed in log space, lgamma per term (no early stop).
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k, n + 1)
    ]  # fmt: skip
    top = max(terms, default=0.0)
    reference = min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms)) if k > 0 else 1.0
    assert tails.binomial_tail(k, n, p) == pytest.approx(reference, rel=1e-12, abs=0)
    if reference > 1e-300:
        assert tails.binomial_tail(k, n, p) == pytest.approx(stats.binom.sf(k - 1, n, p), rel=1e-9)


def _convolved_reference(tests: list[tuple[int, int, float]]) -> float:
    """The tail of the convolved pmfs, each pmf from scipy over its whole support."""
    distribution = np.ones(1)
    for _, n, p in tests:
        distribution = np.convolve(distribution, stats.binom.pmf(np.arange(n + 1), n, p))
    observed = sum(k for k, _, _ in tests)
    return float(distribution[observed:].sum()) if observed < len(distribution) else 0.0


@pytest.mark.parametrize(
    "tests",
    [[(2, 2, 0.5), (1, 1, 0.5)], [(30, 40, 0.5), (5, 12, 1 / 9)], [(900, 1500, 0.5),
     (300, 2000, 0.125), (0, 0, 0.5)], [(40, 3000, 0.5)], [(2990, 3000, 0.5)]],
)  # fmt: skip
def test_sum_of_binomials_tail_is_the_convolved_tail(tests) -> None:
    reference = _convolved_reference(tests)
    found = tails.sum_of_binomials_tail(tests)
    if reference > 1e-280:
        assert found == pytest.approx(reference, rel=1e-9)
    else:
        assert found < 1e-250


def test_log_factorials_grow_and_stay_exact() -> None:
    table = tails.log_factorials(70_000)
    assert len(table) > 70_000
    assert table[69_999] == math.lgamma(70_000.0) and table[0] == 0.0


def test_keyed_siphash_matches_the_one_key_siphash() -> None:
    rng = np.random.default_rng(3)
    rows = 2 * marks._SIP_CHUNK + 7  # across the chunks the state is hashed in
    words = rng.integers(0, 2**64, size=(rows, 2), dtype=np.uint64)
    keys_ = [rng.bytes(16) for _ in range(rows)]
    k0 = np.array([int.from_bytes(k[:8], "little") for k in keys_], np.uint64)
    k1 = np.array([int.from_bytes(k[8:], "little") for k in keys_], np.uint64)
    found = marks.siphash24_16_keyed(k0, k1, words)
    chunk = marks._SIP_CHUNK
    for i in (0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, rows - 1, *range(100, 30_000, 997)):
        assert found[i] == marks.siphash24_16(keys_[i], words[i : i + 1])[0]


def test_read_many_counts_what_read_marks_counts_on_member_rows() -> None:
    bank = synth.customers(600, seed=21)
    tokens = customers.record_tokens(pa.array(np.arange(1, 601), pa.int64()))
    rng = np.random.default_rng(8)
    releases = ["R000001", "R000002", "R000003"]
    members = [np.sort(rng.choice(600, size, replace=False)) for size in (400, 250, 0)]
    # the leak: rows of R000001 as it was marked; other releases marked others' rows
    leak = marks.mark_table(MARK_KEY, "R000001", tokens, bank, FIELDS)
    fields = [FIELDS, {"address": "address", "credit_limit": "amount"}, FIELDS]
    reads = [[bulk_marks.FieldRead(f, f, rule) for f, rule in wanted.items()] for wanted in fields]
    pair_release = np.concatenate([np.full(len(m), j) for j, m in enumerate(members)])
    pair_row = np.concatenate(members)
    found = bulk_marks.read_many(MARK_KEY, leak, tokens, reads, pair_release, pair_row, releases)
    found = [{read.field: count for read, count in counts.items()} for counts in found]
    for j, release in enumerate(releases):
        rows = pa.array(members[j], pa.int64())
        expected = marks.read_marks(MARK_KEY, release, tokens.take(rows), leak.take(rows),
                                    fields[j])  # fmt: skip
        assert found[j] == expected
    assert all(c.agreements == c.trials for c in found[0].values())
    assert sum(c.trials for c in found[0].values()) > 400
    assert all(c.trials == 0 for c in found[2].values())


def test_release_member_rows_finds_every_release_of_every_row(tmp_path) -> None:
    with store.init_workspace(tmp_path / "ws") as ws:
        empty = pa.table({"decoy": pa.array([], pa.int32()), "kind": pa.array([], pa.uint8()),
                          "token": pa.array([], pa.binary(16))})  # fmt: skip
        with ws.transaction():
            store.add_release_members(ws.db, "R1", pa.array([1, 2, 3], pa.int64()), empty)
            store.add_release_members(ws.db, "R2", pa.array([4, 3], pa.int64()), empty)
            with pytest.raises(ValueError, match="distinct"):  # a caller's mistake, refused
                store.add_release_members(ws.db, "R3", pa.array([5, 6, 5], pa.int64()), empty)
        owners = pa.array([3, None, 4, 9, 1, 3], pa.int64())
        pairs = store.release_member_rows(ws.db, owners).to_pylist()
        assert pairs == [{"release_id": "R1", "rows": [0, 4, 5]},
                         {"release_id": "R2", "rows": [0, 2, 5]}]  # fmt: skip
        release, row = channels._member_rows(ws, owners, ["R2", "R1"])
        assert sorted(zip(release.tolist(), row.tolist(), strict=True)) == [
            (0, 0), (0, 2), (0, 5), (1, 0), (1, 4), (1, 5)]  # fmt: skip
        held = channels._held(owners, release, row, 2)
        assert held.tolist() == [2, 2]  # customer 3 counts once though it is in two rows


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A bank of 3,000 customers with 10 days of access logs, loaded in two parts."""
    from leaktrace import access

    folder = tmp_path_factory.mktemp("logged")
    synth.write_institution(folder / "bank", 3000, staff=30, days=10, seed=5, remarks=False,
                            file_format="parquet")  # fmt: skip
    log = pq.read_table(folder / "bank" / "access_log.parquet")
    half = log.num_rows // 2
    pq.write_table(log.slice(0, half), folder / "first.parquet")
    pq.write_table(log.slice(half), folder / "second.parquet")
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(folder / "bank" / "customers.parquet"))
        access.load(ws, str(folder / "bank" / "staff.parquet"))
        access.load(ws, str(folder / "first.parquet"))
    return folder


def _windows_from_all_events(db, customer_ids: pa.Array, branch: str | None = None) -> list[dict]:
    """What store.leak_windows tells, counted anew from every event in one query: the
    reference its touch summary must agree with."""
    group = "''" if branch is None else "coalesce(json_extract_string(segment, ?), '')"
    db.register("probe_leaked", pa.table({"customer_id": customer_ids.unique()}))
    try:
        rows = db.execute(
            f"""WITH events AS (
                SELECT staff_id, customer_id, time FROM access_events
                WHERE customer_id IS NOT NULL
                  AND load_id IN (SELECT load_id FROM access_loads)),
            groups AS (SELECT customer_id, {group} AS g FROM customers WHERE {store.LOADED}),
            leaked AS (
                SELECT g, count(*) AS m_g FROM groups SEMI JOIN probe_leaked USING (customer_id)
                GROUP BY g),
            sizes AS (SELECT g, count(*) AS n_g FROM groups SEMI JOIN leaked USING (g) GROUP BY g),
            hits AS (
                SELECT e.staff_id, count(DISTINCT e.customer_id) AS hits,
                       min(e.time) AS first, max(e.time) AS last
                FROM events e SEMI JOIN probe_leaked p ON e.customer_id = p.customer_id
                GROUP BY e.staff_id),
            touched AS (
                SELECT e.staff_id, count(DISTINCT e.customer_id) AS touched
                FROM events e SEMI JOIN hits h ON e.staff_id = h.staff_id GROUP BY e.staff_id),
            by_group AS (
                SELECT e.staff_id, g.g, count(DISTINCT e.customer_id) AS k_g
                FROM events e SEMI JOIN hits h ON e.staff_id = h.staff_id
                JOIN groups g USING (customer_id) SEMI JOIN leaked l ON l.g = g.g
                GROUP BY e.staff_id, g.g),
            shares AS (
                SELECT b.staff_id, sum(l.m_g * b.k_g / s.n_g) / (SELECT sum(m_g) FROM leaked)
                       AS share
                FROM by_group b JOIN leaked l USING (g) JOIN sizes s USING (g)
                GROUP BY b.staff_id)
            SELECT h.staff_id, h.hits, h.first, h.last, t.touched, coalesce(s.share, 0)
            FROM hits h JOIN touched t USING (staff_id) LEFT JOIN shares s USING (staff_id)
            ORDER BY h.hits DESC, h.staff_id""",
            [] if branch is None else [f"$.{branch}"],
        ).fetchall()
    finally:
        db.unregister("probe_leaked")
    names = ("staff_id", "hits", "first", "last", "touched", "share")
    return [dict(zip(names, row, strict=True)) for row in rows]


def _same_windows(found: list[dict], expected: list[dict]) -> None:
    assert [{k: v for k, v in w.items() if k != "share"} for w in found] == [
        {k: v for k, v in w.items() if k != "share"} for w in expected
    ]
    assert [w["share"] for w in found] == pytest.approx([w["share"] for w in expected], rel=1e-12)


@pytest.mark.parametrize("branch", ["branch_code", None])
def test_leak_windows_tell_what_access_windows_tell(logged, branch) -> None:
    from leaktrace import access

    leaked = pa.array(np.random.default_rng(2).choice(np.arange(1, 3001), 300, replace=False))
    with store.open_workspace(logged / "ws") as ws:
        expected = _windows_from_all_events(ws.db, leaked, branch)
        assert expected and any(w["share"] for w in expected)
        _same_windows(store.leak_windows(ws.db, leaked, branch), expected)
        # a later load makes the summary stale: it is rebuilt, not read as it was
        access.load(ws, str(logged / "second.parquet"))
        expected = _windows_from_all_events(ws.db, leaked, branch)
        _same_windows(store.leak_windows(ws.db, leaked, branch), expected)
    with store.open_workspace(logged / "ws", read_only=True) as ws:
        _same_windows(store.leak_windows(ws.db, leaked, "city"), _windows_from_all_events(
            ws.db, leaked, "city"))  # fmt: skip


def test_touch_summary_of_an_older_layout_is_rebuilt(logged) -> None:
    leaked = pa.array(np.arange(1, 3001, 7))
    with store.open_workspace(logged / "ws") as ws:
        store.touch_summary(ws.db, None)
        state = json.loads(ws.db.execute("SELECT value FROM trace_touch_state").fetchall()[0][0])
        assert state[0] == store.TOUCH_LAYOUT
        # what a workspace kept from before the summary was keyed by staff_key
        ws.db.execute("CREATE OR REPLACE TABLE trace_touched AS SELECT 'u1' AS staff_id, "
                      "'' AS g, 1::BIGINT AS customers")  # fmt: skip
        ws.db.execute("UPDATE trace_touch_state SET value = ?", [json.dumps(state[1:])])
        _same_windows(store.leak_windows(ws.db, leaked), _windows_from_all_events(ws.db, leaked))
