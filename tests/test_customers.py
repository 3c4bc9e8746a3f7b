"""The customer register: tokens only at rest, format-blind and masked matching, upserts, and
a load interrupted by kill -9 (issue 4's acceptance)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from opencc import OpenCC
from scipy import stats
from typer.testing import CliRunner

from leaktrace import customers, keys, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError, SourceError

CUSTOMERS = 10_000
IDENTIFIER_COLUMNS = ("mobile", "id_number", "card_number", "email", "name")


@cache
def _people() -> pa.Table:
    return synth.customers(CUSTOMERS, seed=41)


def _write(table: pa.Table, path: Path) -> str:
    pacsv.write_csv(table, path)
    return str(path)


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    """A workspace holding the 10,000 synthetic customers, and the file they came from."""
    folder = tmp_path_factory.mktemp("register")
    source = _write(_people(), folder / "customers.csv")
    ws = store.init_workspace(folder / "ws")
    result = customers.load(ws, source)
    assert result.counts.customers_new == CUSTOMERS
    ws.close()
    return folder / "ws", source


@pytest.fixture
def workspace(register):
    with store.open_workspace(register[0], read_only=True) as ws:
        yield ws


def _expected_ids(ws: store.Workspace, rows: pa.Table) -> list[int | None]:
    return customers.register_ids(ws, rows.column("customer_id"))


def _matched(result: customers.MatchResult) -> dict[int, int]:
    """row number → register id of the matched rows."""
    rows = result.rows_table.filter(pc.equal(result.rows_table.column("status"), "matched"))
    return dict(zip(*(rows.column(c).to_pylist() for c in ("row_no", "customer_id")), strict=True))


def test_mapping_is_found_by_the_scanner(register, workspace):
    (load,) = workspace.db.sql("SELECT mapping FROM loads").fetchall()[0]
    mapping = json.loads(load)
    assert mapping["id_column"] == "customer_id"
    assert mapping["identifiers"] == {
        "name": "person_name",
        "id_number": "resident_id",
        "mobile": "mobile",
        "email": "email",
        "plate": "plate",
        "card_number": "bank_card",
    }
    assert mapping["birth_date"] == "birth_date"
    assert "branch_code" in mapping["segments"]
    assert "address" not in mapping["segments"]  # identifying: neither token nor segment


def test_no_raw_identifier_at_rest(register, workspace, find_bytes):
    """Every byte of the workspace folder, searched for every customer's identifiers and name
    in UTF-8 and GBK. Tokens are random bytes, so a 4-byte GBK name (two characters) can turn
    up inside tokens by chance (a few times here); such a hit must lie within
    stored tokens (one, or two side by side), which the test checks, and nowhere else."""
    folder = register[0]
    blob = b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())
    stored = {
        row[0]
        for row in workspace.db.sql(
            "SELECT token FROM tokens UNION ALL SELECT ref_token FROM customers"
        ).fetchall()
    }

    def in_token(at: int) -> bool:
        """Whether the byte at ``at`` belongs to a stored token (they lie side by side)."""
        starts = range(max(0, at - keys.TOKEN_BYTES + 1), at + 1)
        return any(blob[s : s + keys.TOKEN_BYTES] in stored for s in starts)

    needles = [
        (column, encoding, value.encode(encoding))
        for column in IDENTIFIER_COLUMNS
        for value in _people().column(column).to_pylist()
        if value
        for encoding in ("utf-8", "gbk")
    ]
    found = find_bytes(blob, {needle for _, _, needle in needles})
    outside, inside, by_chance = [], 0, 0.0
    for column, encoding, needle in needles:
        by_chance += len(blob) / 256 ** len(needle)  # expected hits in random bytes
        for at in found[needle]:
            if in_token(at) and in_token(at + len(needle) - 1):
                inside += 1
            else:
                outside.append((column, encoding))
    assert outside == []
    # chance alone (a one-in-a-billion bound); a stored name would show up thousands of times
    assert inside <= stats.poisson.isf(1e-9, by_chance), (inside, by_chance)


def _reformatted(rows: pa.Table) -> pa.Table:
    """What a broker does: +86 and dashes, full-width digits, lower-case x and 15-digit IDs,
    traditional characters, plates with separators, upper-case e-mail."""
    s2t = OpenCC("s2t")

    def each(column: str, change: Callable[[str], str]) -> pa.Array:
        return pa.array([None if v is None else change(v) for v in rows.column(column).to_pylist()])

    def legacy(number: str) -> str:
        return number[:6] + number[8:17] if number[6:8] == "19" else number.lower()

    def full_width(text: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)

    return pa.table(
        {
            "客户姓名": each("name", s2t.convert),
            "联系电话": each("mobile", lambda v: f"+86 {v[:3]}-{v[3:7]}-{v[7:]}"),
            "证件号码": each("id_number", legacy),
            "卡号": each("card_number", lambda v: full_width(" ".join([v[:4], v[4:8], v[8:]]))),
            "车牌": each("plate", lambda v: f"{v[:2]}·{v[2:]}"),
            "邮箱": each("email", str.upper),
        }
    )


@pytest.mark.parametrize(
    "columns",
    [
        ["联系电话"],
        ["证件号码"],
        ["卡号"],
        ["车牌"],
        ["邮箱"],
        ["客户姓名", "证件号码"],
        ["客户姓名", "联系电话", "证件号码", "卡号", "车牌", "邮箱"],
    ],
)
def test_matching_is_format_blind(workspace, tmp_path, columns):
    people = _people().slice(0, 2000)
    # Only rows with a value in the first column (a one-column file has no line for the rest).
    people = people.filter(pc.is_valid(_reformatted(people).column(columns[0])))
    leak = _reformatted(people).select(columns)
    expected = _expected_ids(workspace, people)
    # A value two customers share (synthetic plates can repeat) identifies neither of them.
    original = {"联系电话": "mobile", "证件号码": "id_number", "卡号": "card_number"}
    original |= {"车牌": "plate", "邮箱": "email", "客户姓名": "name"}
    counts = Counter(_people().column(original[columns[0]]).to_pylist())
    shared = {
        row
        for row, value in enumerate(people.column(original[columns[0]]).to_pylist())
        if counts[value] > 1 and len(columns) == 1
    }
    result = customers.match(workspace, _write(leak, tmp_path / "leak.csv"))
    assert _matched(result) == {i: c for i, c in enumerate(expected) if i not in shared}
    assert result.ambiguous == len(shared)


def test_masked_phone_and_name_match_or_are_ambiguous_never_wrong(workspace, tmp_path):
    people = _people().filter(pc.is_valid(_people().column("mobile"))).slice(0, 1000)
    masked = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(people.column("mobile"), 0, 3),
        pc.utf8_slice_codeunits(people.column("mobile"), 7),
        "****",
    )
    leak = pa.table({"姓名": people.column("name"), "手机号": masked})
    expected = _expected_ids(workspace, people)
    result = customers.match(workspace, _write(leak, tmp_path / "masked.csv"))
    matched = _matched(result)
    wrong = [row for row, customer in matched.items() if customer != expected[row]]
    assert wrong == []
    assert len(matched) >= 950
    assert result.matched + result.ambiguous == 1000


def test_a_list_of_strangers_matches_nobody(workspace, tmp_path):
    strangers = synth.customers(500, seed=977).select(["name", "mobile", "id_number"])
    result = customers.match(workspace, _write(strangers, tmp_path / "strangers.csv"))
    assert result.matched == 0
    assert result.unmatched == result.usable == 500


def test_reload_upserts_and_keeps_old_phones(tmp_path):
    people = synth.customers(300, seed=7)
    ws = store.init_workspace(tmp_path / "ws")
    first = customers.load(ws, _write(people, tmp_path / "v1.csv"))
    again = customers.load(ws, _write(people, tmp_path / "v1.csv"))
    assert (again.counts.customers_new, again.counts.customers_seen) == (0, 300)
    assert again.counts.tokens_new == 0
    assert again.counts.tokens_total == first.counts.tokens_total
    # 50 customers change their phone; 20 new customers arrive.
    newer = synth.customers(320, seed=8)
    phones = people.column("mobile").to_pylist()
    phones[:50] = newer.column("mobile").to_pylist()[:50]
    changed = people.set_column(people.schema.get_field_index("mobile"), "mobile", pa.array(phones))
    arrivals = newer.slice(300).set_column(
        0, "customer_id", pa.array([f"N{i:05d}" for i in range(20)])
    )
    third = customers.load(ws, _write(pa.concat_tables([changed, arrivals]), tmp_path / "v2.csv"))
    assert (third.counts.customers_new, third.counts.customers_seen) == (20, 300)
    old_phones = pa.table({"手机": people.column("mobile").slice(0, 50)})
    new_phones = pa.table({"手机": pa.array(phones[:50])})
    for leak in (old_phones, new_phones):
        result = customers.match(ws, _write(leak, tmp_path / "phones.csv"))
        assert result.matched == 50
        assert set(_matched(result).values()) == set(range(1, 51))
    ws.close()


_LOADER = """
import sys
from leaktrace import customers, store
ws = store.open_workspace(sys.argv[1])
def started(rows):
    print("loading", flush=True)
    sys.stdin.readline()  # the test kills this process here, in the middle of the load
customers.load(ws, sys.argv[2], on_rows=started, batch_rows=2000)
"""


def _snapshot(folder: Path) -> tuple:
    """Everything in the register, as the next command sees it (it clears an unfinished load)."""
    with store.open_workspace(folder) as ws:
        return (
            ws.counts(),
            ws.db.sql("SELECT * FROM customers ORDER BY customer_id").fetchall(),
            ws.db.sql("SELECT * FROM tokens ORDER BY token, customer_id").fetchall(),
            ws.db.sql("SELECT load_id, rows FROM loads").fetchall(),
        )


def test_a_load_killed_midway_leaves_the_workspace_as_it_was(tmp_path):
    ws = store.init_workspace(tmp_path / "ws")
    customers.load(ws, _write(synth.customers(500, seed=1), tmp_path / "first.csv"))
    ws.close()
    before = _snapshot(tmp_path / "ws")
    second = _write(synth.customers(6000, seed=2), tmp_path / "second.csv")
    loader = subprocess.Popen(
        [sys.executable, "-c", _LOADER, str(tmp_path / "ws"), second],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert loader.stdout.readline().strip() == "loading"
    finally:
        os.killpg(loader.pid, signal.SIGKILL)  # the load and its token workers, all at once
        loader.wait()
    assert loader.returncode == -signal.SIGKILL
    with store.open_workspace(tmp_path / "ws", read_only=True) as ws:
        assert ws.counts() == before[0]  # what the killed load wrote counts for nothing…
    assert _snapshot(tmp_path / "ws") == before  # …and is gone once the workspace is opened
    # And the workspace still works: the same load now runs to the end.
    with store.open_workspace(tmp_path / "ws") as ws:
        assert customers.load(ws, second).counts.customers_total == 6000  # C00000001… repeat


def test_a_customer_number_column_that_names_few_customers_is_refused(tmp_path):
    """A sex column taken for the customer number would merge everyone into two customers: the
    load is refused before its commit, and nothing of it is kept; asked to, it loads with a
    warning."""
    people = synth.customers(300, seed=12)
    source = _write(people, tmp_path / "c.csv")
    with store.init_workspace(tmp_path / "ws") as ws:
        assert customers.load(ws, source).warnings == []
    mapping = customers.propose_mapping(pa.Table.from_batches(people.to_batches()), "gender")
    with store.init_workspace(tmp_path / "ws2") as ws:
        with pytest.raises(ConfigError, match="300 rows named only 2 customers by column 'gen"):
            customers.load(ws, source, mapping)
        assert ws.counts()["customers"] == 0 and ws.counts()["tokens"] == 0
        assert ws.db.sql("SELECT count(*) FROM loads").fetchall() == [(0,)]
        merged = customers.load(ws, source, mapping, many_rows_per_customer=True)
        (warning,) = merged.warnings
        assert warning.startswith("300 rows named only 2 customers by column 'gender', loaded")
        assert ws.counts()["customers"] == 2


def test_bad_sources_and_maps_are_refused(tmp_path):
    ws = store.init_workspace(tmp_path / "ws")
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,mobile\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no rows"):
        customers.load(ws, str(empty), customers.parse_map(["mobile=mobile"], "customer_id"))
    # Without a map too: "no rows", not "no identifier column" (and exit 3, not 2).
    with pytest.raises(SourceError, match=r"empty\.csv: the table has no rows"):
        customers.load(ws, str(empty))
    with pytest.raises(SourceError, match=r"empty\.csv: the table has no rows"):
        customers.match(ws, str(empty))
    source = _write(synth.customers(50, seed=3), tmp_path / "c.csv")
    with pytest.raises(ConfigError, match="no column 'phone'"):
        customers.load(ws, source, customers.parse_map(["phone=mobile"], "customer_id"))
    with pytest.raises(ConfigError, match="customer number"):
        customers.load(ws, source, customers.parse_map(["mobile=mobile"]))
    with pytest.raises(ConfigError, match="unknown type"):
        customers.parse_map(["mobile=phone"])
    with pytest.raises(ConfigError, match="COLUMN=TYPE"):
        customers.parse_map(["mobile"])
    assert ws.counts() == {"customers": 0, "tokens": 0, "loads": 0}
    ws.close()


def test_cli_init_load_and_match(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "ws"
    created = runner.invoke(app, ["init", str(folder), "--json"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["key"] == str(folder / store.KEY_FILE_NAME)
    people = synth.customers(200, seed=9)
    source = _write(people, tmp_path / "c.csv")
    refused = runner.invoke(app, ["customers", "load", source, "-w", str(folder)])
    assert refused.exit_code == 2 and "--yes" in refused.output
    loaded = runner.invoke(app, ["customers", "load", source, "-w", str(folder), "--yes", "--json"])
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["customers_new"] == 200
    leak = _write(people.select(["name", "mobile"]).slice(0, 30), tmp_path / "leak.csv")
    matched = runner.invoke(
        app, ["customers", "match", leak, "--json"], env={"LEAKTRACE_WORKSPACE": str(folder)}
    )
    assert matched.exit_code == 0, matched.output
    summary = json.loads(matched.stdout)
    assert summary["matched"] == 30 and summary["matched_by"] == {"mobile": 30}
    assert people.column("mobile")[0].as_py() not in matched.stdout
    wrong_key = runner.invoke(
        app,
        ["customers", "match", leak, "-w", str(folder)],
        env={keys.ENV_VAR: keys.encode_key(keys.new_master_key())},
    )
    assert wrong_key.exit_code == 4
    assert "does not match" in wrong_key.output


def test_the_tokens_of_a_batch_are_stored_by_kind(tmp_path):
    """A row group holds a few kinds of token, not all of them, so that a read of one kind (the
    export's questions to the register) skips the others by the row groups' min/max."""
    source = _write(synth.customers(50_000, seed=4), tmp_path / "c.csv")
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, source)
        # The row groups' sizes as the store reports them (start: a segment's first row
        # within its row group).
        sizes = ws.db.sql(
            """SELECT max(start + count) FROM pragma_storage_info('tokens')
            WHERE column_name = 'kind' GROUP BY row_group_id ORDER BY row_group_id"""
        ).fetchall()
        ends = list(itertools.accumulate(size for (size,) in sizes))
        ws.db.register("groups", pa.table({"first": [0, *ends[:-1]], "stop": ends}))
        per_group = ws.db.sql(
            """SELECT g.first, count(DISTINCT t.kind) FROM tokens t
            JOIN groups g ON t.rowid >= g.first AND t.rowid < g.stop GROUP BY g.first"""
        ).fetchall()
        assert (
            sum(size for (size,) in sizes)
            == ws.db.sql("SELECT count(*) FROM tokens").fetchall()[0][0]
        )
        every = ws.db.sql("SELECT count(DISTINCT kind) FROM tokens").fetchall()[0][0]
    assert len(per_group) >= 4 and every >= 8
    # Each kind lies in one run of row groups: no more (group, kind) pairs than that allows.
    assert sum(kinds for _, kinds in per_group) <= len(per_group) + every - 1, (per_group, every)
