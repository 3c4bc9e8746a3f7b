"""leaktrace trace: verdicts on leaked lists, canaries and the legal tally (issue 7, part 1)."""

from __future__ import annotations

import json
import pathlib
import random

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from leaktrace import customers, law, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import SourceError
from leaktrace.release import canary
from leaktrace.release import export as exporter
from leaktrace.trace import case

POOL = [f"1380013{n:04d}" for n in range(0, 40)]


def _registered(folder, customers_count: int, seed: int):
    """A workspace in ``folder`` whose register holds ``customers_count`` synthetic customers
    and whose decoys take phones from POOL; the source file's path."""
    source = folder / "customers.csv"
    pacsv.write_csv(synth.customers(customers_count, seed=seed), source)
    store.init_workspace(folder / "ws").close()
    with (folder / "ws" / store.CONFIG_NAME).open("a", encoding="utf-8") as config:
        config.write(f"\n[release]\ndecoy_phone_pool = {json.dumps(POOL)}\n")
    with store.open_workspace(folder / "ws") as ws:
        customers.load(ws, str(source))
    return source


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """3,000 registered customers, two 600-customer releases of one request, canaries."""
    folder = tmp_path_factory.mktemp("trace")
    source = _registered(folder, 3000, seed=41)
    with store.open_workspace(folder / "ws") as ws:
        releases = [
            exporter.export(ws, str(source), folder / f"{n}.csv", recipient=n, purpose="campaign",
                            sample=600)
            for n in ("telesales-1", "telesales-2")
        ]  # fmt: skip
        planted = canary.plant(ws, str(source), folder / "canaries.csv", count=10)
    return folder, source, releases, planted


def _rows(path, rows, seed) -> pa.Table:
    header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16)).column_names
    as_text = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True
    )  # as a broker's spreadsheet keeps them: text, so 18-digit IDs stay whole
    table = pacsv.read_csv(path, convert_options=as_text)
    picked = pa.array(sorted(random.Random(seed).sample(range(table.num_rows), rows)))
    return table.take(picked)


def _write(table: pa.Table, path) -> str:
    pacsv.write_csv(table, path)
    return str(path)


@pytest.mark.parametrize("which", [0, 1])
def test_a_20_row_sample_is_attributed_to_its_release(world, tmp_path, which):
    folder, _source, releases, _ = world
    leak = _write(_rows(releases[which].output, 20, seed=which), tmp_path / "leak.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [leak])
    verdict = traced.verdict
    assert verdict.outcome == "attributed"
    assert verdict.release_id == releases[which].release_id
    assert verdict.bound is not None and verdict.bound <= 1e-6
    assert traced.candidates[0].release_id == releases[which].release_id


def test_reformatted_columns_still_trace(world, tmp_path):
    """A broker drops and renames columns and shuffles rows; the marked fields stay."""
    folder, _source, releases, _ = world
    rows = _rows(releases[0].output, 40, seed=7)
    kept = rows.select(["name", "mobile", "address", "credit_limit", "loan_balance"])
    kept = kept.rename_columns(["姓名", "电话", "address", "credit_limit", "loan_balance"])
    leak = _write(kept.take(pa.array(list(reversed(range(kept.num_rows))))), tmp_path / "b.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [leak])
    assert traced.matched_customers >= 35
    assert traced.verdict.release_id == releases[0].release_id


@pytest.fixture(scope="module")
def same_customers(tmp_path_factory):
    """Two releases of all of one 400-customer list: only decoys and marks tell them apart."""
    folder = tmp_path_factory.mktemp("same")
    source = _registered(folder, 400, seed=43)
    with store.open_workspace(folder / "ws") as ws:
        releases = [
            exporter.export(ws, str(source), folder / f"{n}.csv", recipient=n, purpose="campaign")
            for n in ("agency-1", "agency-2")
        ]
    return folder, source, releases


def test_marks_in_renamed_columns_tell_releases_of_the_same_customers_apart(
    same_customers, tmp_path
):
    folder, source, releases = same_customers
    ours = pacsv.read_csv(source).column("customer_id").cast(pa.string())
    rows = _rows(releases[1].output, 60, seed=2)
    rows = rows.filter(pc.is_in(rows.column("customer_id"), ours))  # no decoy: marks alone
    sold = rows.select(["name", "mobile", "address", "credit_limit", "loan_balance"])
    leak = _write(sold.rename_columns(["姓名", "电话", "住址", "额度", "贷款"]), tmp_path / "r.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [leak])
    first, second = traced.candidates
    assert first.release_id == releases[1].release_id and first.decoys == 0
    assert first.members == second.members  # the release sets cannot tell them apart
    assert first.mark_columns["address"] == "住址" and first.marks_pvalue <= 1e-12
    assert second.marks_pvalue > 1e-3
    assert traced.verdict.outcome == "attributed"
    assert traced.verdict.release_id == releases[1].release_id
    assert first.as_dict()["marks"]["address"]["column"] == "住址"


def test_customers_never_released_are_inconclusive(world, tmp_path):
    folder, source, _releases, _ = world
    everyone = pacsv.read_csv(source)
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        held = {
            r for (r,) in ws.db.sql("SELECT DISTINCT customer_id FROM release_customers").fetchall()
        }
        ids = customers.register_ids(ws, everyone.column("customer_id").cast(pa.string()))
        never = [i for i, owner in enumerate(ids) if owner not in held][:30]
        leak = _write(everyone.take(pa.array(never)), tmp_path / "never.csv")
        traced = case.trace_leak(ws, [leak])
    assert traced.matched_customers == 30
    assert traced.verdict.outcome == "inconclusive" and not traced.verdict.person_named


def test_a_list_that_is_not_ours(world, tmp_path):
    folder, *_ = world
    strangers = _write(synth.customers(50, seed=999), tmp_path / "strangers.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [strangers])
    assert traced.verdict.outcome == "not_ours" and traced.matched_rows < 5


def test_canaries_in_a_leak_are_reported(world, tmp_path):
    folder, source, _releases, planted = world
    mixed = pa.concat_tables(
        [_rows(source, 15, seed=3), _rows(planted.output, 3, seed=4)], promote_options="permissive"
    )
    leak = _write(mixed, tmp_path / "mixed.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [leak])
    assert traced.canaries == {planted.release_id: 3}


def test_tally_counts_each_person_once_by_the_most_sensitive_category(world, tmp_path):
    folder, source, *_ = world
    rows = _rows(source, 60, seed=5).select(["name", "mobile", "loan_balance"])
    doubled = pa.concat_tables([rows, rows])  # the same persons sold twice in one list
    leak = _write(doubled, tmp_path / "t.csv")
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        traced = case.trace_leak(ws, [leak])
    with_balance = pc.sum(pc.is_valid(rows.column("loan_balance"))).as_py()
    tally = traced.tally
    assert tally.total == 60
    assert tally.persons[law.LegalCategory.CREDIT] == with_balance
    assert tally.persons.get(law.LegalCategory.OTHER, 0) == 60 - with_balance
    assert tally.reached(insider=True) == ("serious" if tally.share * 2 >= 1 else None)


def test_cli_json_and_bad_input(world, tmp_path):
    folder, _source, releases, _ = world
    leak = _write(_rows(releases[1].output, 25, seed=11), tmp_path / "leak.csv")
    runner = CliRunner()
    result = runner.invoke(app, ["trace", leak, "-w", str(folder / "ws"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"]["release_id"] == releases[1].release_id
    assert data["inputs"][0]["rows"] == 25 and len(data["inputs"][0]["sha256"]) == 64
    empty = tmp_path / "empty.csv"
    empty.write_text("name,mobile\n", encoding="utf-8")
    result = runner.invoke(app, ["trace", str(empty), "-w", str(folder / "ws")])
    assert result.exit_code == SourceError.exit_code and "no rows" in result.output
    # The same file twice would count its rows (and persons) twice.
    twice = runner.invoke(app, ["trace", leak, leak, "-w", str(folder / "ws")])
    assert twice.exit_code == 2 and "holds the same bytes as" in twice.stderr
    # Rows the file cannot give are said, and recorded with the case's inputs.
    lines = pathlib.Path(leak).read_text(encoding="utf-8").splitlines()
    lines[4] += ',"extra"'
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["trace", str(ragged), "-w", str(folder / "ws"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"][0] | {"sha256": None} == {
        "source": str(ragged),
        "rows": 24,
        "rows_unread": 1,
        "sha256": None,
    }
    assert f"warning: 1 row of {ragged} could not be read and was left out (line 5" in result.stderr
    assert json.loads(result.stdout)["warnings"] == [result.stderr.split("warning: ")[1].strip()]


def test_a_query_by_query_harvester_is_named_by_the_access_logs(tmp_path):
    """No release: a credit officer queried 60 customers one by one over two evenings; the
    leaked list holds them. The access-window channel names that user, and only that user."""
    import numpy as np

    from leaktrace import access
    from leaktrace.report import html
    from leaktrace.synth import access as logs

    targets = np.arange(100, 160, dtype=np.int32)  # customer rows (C00000101 …)
    harvester = 7  # staff row: EMP0000008

    def harvest(ctx, work):
        if ctx.index not in (3, 4):
            return work
        part = targets[:30] if ctx.index == 3 else targets[30:]
        seconds = 20 * 3600 + np.arange(part.size, dtype=np.int32) * 90
        extra = logs.make_events(np.full(part.size, harvester), part, seconds, logs.CREDIT_QUERY,
                                 logs.CREDIT_REPORT, label=1)  # fmt: skip
        return logs.DayWork(logs.Events.concat([work.events, extra]), work.applications)

    bank = tmp_path / "bank"
    synth.write_institution(bank, 3000, staff=40, days=8, seed=5, remarks=False,
                            scenarios=[harvest])  # fmt: skip
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(bank / "customers.csv"))
        access.load(ws, str(bank / "staff.csv"))
        access.load(ws, str(bank / "access_log.csv"))
        everyone = pacsv.read_csv(bank / "customers.csv")
        wanted = pa.array([f"C{i + 1:08d}" for i in targets])
        leaked = everyone.filter(pc.is_in(everyone.column("客户号"), wanted))
        leak = _write(leaked.select(["姓名", "手机号"]), tmp_path / "leak.csv")
        traced = case.trace_leak(ws, [leak])
        context = html.context_of(ws, traced)
    assert traced.matched_customers == 60
    verdict = traced.verdict
    assert verdict.outcome == "attributed" and verdict.users == ("EMP0000008",)
    assert verdict.person_named and verdict.release_id is None
    window = traced.windows[0]
    assert window.staff_id == "EMP0000008" and window.hits == 60
    assert (window.last - window.first).days == 1  # the two evenings
    assert all(w.pvalue * len(traced.windows) > 1e-6 for w in traced.windows[1:])
    assert context["suspect"] == "EMP0000008"
    timeline = context["chart"]["bars"]
    on_leaked = [int(bar["title"].split(": ")[1].split()[0]) for bar in timeline]
    assert sum(on_leaked) >= 60 and sum(1 for n in on_leaked if n) >= 2


def test_a_leak_of_decoys_only_is_attributed(world, tmp_path):
    folder, _source, releases, _ = world
    table = _rows(releases[1].output, 600, seed=12)
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        owners = customers.register_ids(ws, table.column("customer_id").combine_chunks())
        decoys = table.filter(pa.array([o is None for o in owners]))
        leak = _write(decoys.slice(0, 2), tmp_path / "decoys.csv")
        traced = case.trace_leak(ws, [leak])
    assert traced.matched_rows == 0
    assert traced.verdict.outcome == "attributed" and traced.verdict.person_named
    assert traced.verdict.release_id == releases[1].release_id


def test_a_list_from_one_branch_names_none_of_its_staff(tmp_path):
    """Tellers and the province's back office touch many of a branch's customers in normal
    work: a list drawn from one branch must not make them suspects. The register-wide share
    alone (|A_u| / N) would name one; the branch's own share does not."""
    from leaktrace import access
    from leaktrace.tails import binomial_tail

    bank = tmp_path / "bank"
    synth.write_institution(bank, 20_000, staff=80, days=30, seed=3, remarks=False)
    text = pacsv.ConvertOptions(column_types={"网点代码": pa.string(), "客户号": pa.string()})
    everyone = pacsv.read_csv(bank / "customers.csv", convert_options=text)
    counts = pc.value_counts(everyone.column("网点代码")).to_pylist()
    largest = max(counts, key=lambda c: c["counts"])["values"]
    one_branch = everyone.filter(pc.equal(everyone.column("网点代码"), largest)).slice(0, 60)
    leak = _write(one_branch.select(["姓名", "手机号"]), tmp_path / "branch.csv")
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(bank / "customers.csv"))
        for name in ("staff", "access_log"):
            access.load(ws, str(bank / f"{name}.csv"))
        traced = case.trace_leak(ws, [leak])
        register = ws.counts()["customers"]
    assert traced.matched_customers == 60 and traced.windows
    assert not traced.verdict.person_named and traced.verdict.outcome != "attributed"
    naive = [binomial_tail(w.hits, w.matched, w.touched / register) for w in traced.windows]
    assert min(naive) * len(traced.windows) <= 1e-12  # the trap the branch share avoids


def test_owners_and_exact_tokens_from_one_pass(world, tmp_path):
    """Without a customer-number column, trace hashes the leak's identifiers once for both the
    rows' owners and the decoy check: the same as row_owners and exact_tokens apart."""
    from leaktrace.trace import channels

    folder, _source, releases, _ = world
    rows = _rows(releases[1].output, 80, seed=4)
    leaked = rows.select(["name", "mobile", "id_number", "address"])
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        mapping = customers.propose_mapping(leaked)
        mapping.segments = []
        assert mapping.id_column is None and mapping.identifiers
        owners, exact = case._owners_and_exact_tokens(ws, leaked, mapping)
        assert owners.equals(customers.row_owners(ws, leaked, mapping))
        assert exact.equals(channels.exact_tokens(ws, leaked, mapping))
        assert owners.null_count < 10  # decoys and nothing else stay unmatched
