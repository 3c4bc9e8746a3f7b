"""leaktrace export: unique copies per recipient, recorded in the ledger, recomputable from it
(issue 5, acceptance 1, 2 and 4)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from leaktrace import customers, ledger, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.release import export as exporter
from leaktrace.release import writers
from leaktrace.trace import channels

NEEDED = ("customer_id", "name", "gender", "birth_date", "id_number", "mobile", "email",
          "plate", "card_number", "branch_code", "branch_name", "open_date")  # fmt: skip


# Numbers "the institution owns" for decoys (synthetic, 138-0013-xxxx).
POOL = [f"1380013{n:04d}" for n in range(0, 40)]


@cache
def _people() -> pa.Table:
    return synth.customers(6000, seed=23)


def _read(path) -> pa.Table:
    return pacsv.read_csv(path)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A register of 6,000 customers and two 5,000-customer releases of the same request."""
    folder = tmp_path_factory.mktemp("export")
    source = folder / "customers.csv"
    pacsv.write_csv(_people(), source)
    allocator = pa.default_memory_pool().backend_name
    store.init_workspace(folder / "ws").close()
    with (folder / "ws" / store.CONFIG_NAME).open("a", encoding="utf-8") as config:
        config.write(f"\n[release]\ndecoy_phone_pool = {json.dumps(POOL)}\n")
    ws = store.open_workspace(folder / "ws")
    customers.load(ws, str(source))
    made = [
        exporter.export(
            ws,
            str(source),
            folder / f"{name}.csv",
            recipient=name,
            purpose="campaign",
            sample=5000,
        )
        for name in ("telesales-1", "telesales-2")
    ]
    ws.close()
    # an export takes Arrow's jemalloc for itself, and gives the caller's allocator back
    assert pa.default_memory_pool().backend_name == allocator
    return folder, source, made


def _real_rows(table: pa.Table) -> pa.Table:
    ids = set(_people().column("customer_id").to_pylist())
    return table.filter(pc.is_in(table.column("customer_id"), pa.array(sorted(ids))))


def test_two_recipients_differ_in_subset_decoys_and_marks(released):
    _folder, _source, (a, b) = released
    table_a, table_b = _read(a.output), _read(b.output)
    real_a, real_b = _real_rows(table_a), _real_rows(table_b)
    ids_a = set(real_a.column("customer_id").to_pylist())
    ids_b = set(real_b.column("customer_id").to_pylist())
    assert len(ids_a) == len(ids_b) == 5000
    assert len(ids_a & ids_b) == 2 * 5000 - 6000  # as small as two 5,000 of 6,000 allow
    decoys_a = set(table_a.column("id_number").to_pylist()) - set(
        real_a.column("id_number").to_pylist()
    )
    decoys_b = set(table_b.column("id_number").to_pylist()) - set(
        real_b.column("id_number").to_pylist()
    )
    assert a.warnings == () and a.decoys == 150 and len(decoys_a) >= 140 and not decoys_a & decoys_b
    decoy_phones = set(table_a.column("mobile").to_pylist()) - set(
        real_a.column("mobile").to_pylist()
    )
    assert decoy_phones and {str(p) for p in decoy_phones} <= set(POOL)  # only numbers we own
    both = sorted(ids_a & ids_b)
    differing = 0
    for field in a.marked_fields:
        rows_a = real_a.filter(pc.is_in(real_a.column("customer_id"), pa.array(both))).sort_by(
            "customer_id"
        )
        rows_b = real_b.filter(pc.is_in(real_b.column("customer_id"), pa.array(both))).sort_by(
            "customer_id"
        )
        differing += sum(
            x != y
            for x, y in zip(
                rows_a.column(field).to_pylist(), rows_b.column(field).to_pylist(), strict=True
            )
        )
    assert differing > 1000


def test_values_a_recipient_needs_are_unchanged_and_types_kept(released):
    _folder, source, (a, _b) = released
    original = _read(source)
    copy = _read(a.output)
    assert copy.column_names == original.column_names
    assert copy.schema.types == original.schema.types
    real = _real_rows(copy).sort_by("customer_id")
    same = original.filter(pc.is_in(original.column("customer_id"), real.column("customer_id")))
    same = same.sort_by("customer_id")
    for column in NEEDED:
        assert real.column(column).to_pylist() == same.column(column).to_pylist(), column
    # pandas reads the copy with the same columns and dtypes as the original.
    pandas = pytest.importorskip("pandas")
    assert pandas.read_csv(a.output).dtypes.to_dict() == pandas.read_csv(source).dtypes.to_dict()


@pytest.mark.parametrize("which", [0, 1])
def test_a_20_row_sample_names_its_release_from_the_ledger(released, which):
    folder, _source, made = released
    sample = _real_rows(_read(made[which].output)).slice(1000, 20)
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        found = channels.candidates(ws, sample)
    assert found[0].release_id == made[which].release_id
    right, wrong = found
    assert right.marks_pvalue < 1e-6 / len(found)  # Bonferroni over the candidates
    assert wrong.marks_pvalue > 1e-3
    assert sum(c.trials for c in right.marks.values()) >= 20


def test_a_decoy_in_a_sample_is_proof(released):
    _folder, _source, (a, _b) = released
    table = _read(a.output)
    decoys = table.filter(
        pc.invert(pc.is_in(table.column("customer_id"), pa.array(_people().column("customer_id"))))
    )
    sample = pa.concat_tables([decoys.slice(0, 1), _real_rows(table).slice(0, 4)])
    with store.open_workspace(_folder / "ws", read_only=True) as ws:
        found = channels.candidates(ws, sample)
    assert found[0].release_id == a.release_id and found[0].decoys == 1
    assert found[0].pvalue == 0.0 and found[1].decoys == 0


def test_the_ledger_records_both_releases(released):
    folder, _source, (a, b) = released
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        entries = ledger.entries(ws, kind="release")
        assert ledger.verify(ws).ok
    assert [e.body["release_id"] for e in entries] == [a.release_id, b.release_id]
    body = entries[0].body
    assert body["output_sha256"] == a.output_sha256 and body["customers"] == 5000
    assert "13" not in json.dumps(body["policy"])  # no phone numbers copied into the ledger


def test_an_export_killed_after_recording_gets_its_file(tmp_path, monkeypatch):
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(300, seed=5), source)
    ws = store.init_workspace(tmp_path / "ws")
    customers.load(ws, str(source))

    def crash(*_args):  # the process dies between the ledger commit and the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        exporter.export(ws, str(source), tmp_path / "out.csv", recipient="r", purpose="p")
    monkeypatch.undo()
    assert not (tmp_path / "out.csv").exists()
    (message,) = exporter.recover(ws)
    assert "now in place" in message
    (release,) = store.releases(ws.db)
    assert release["status"] == "complete" and (tmp_path / "out.csv").exists()
    ws.close()


def test_an_export_interrupted_while_recording_is_aborted_at_once(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM (both raise KeyboardInterrupt) while the release is being recorded:
    the record's transaction is rolled back and the release aborted on the spot, its partial
    file removed (a SIGKILL, which runs nothing, is left to the next command: below)."""
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(300, seed=6), source)
    ws = store.init_workspace(tmp_path / "ws")
    customers.load(ws, str(source))
    append = exporter.ledger.append
    interrupted = []

    def interrupt_once(*args, **kwargs):
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return append(*args, **kwargs)

    monkeypatch.setattr(exporter.ledger, "append", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        exporter.export(ws, str(source), tmp_path / "out.csv", recipient="r", purpose="p")
    monkeypatch.undo()
    assert interrupted
    assert not list(tmp_path.glob(".out.csv.*.partial")) and not (tmp_path / "out.csv").exists()
    (release,) = store.releases(ws.db)
    assert release["status"] == "aborted"
    assert [e.kind for e in ledger.entries(ws)] == ["release_aborted"]
    assert ws.db.execute("SELECT count(*) FROM release_customers").fetchone() == (0,)
    assert ledger.verify(ws).ok
    ws.close()
    shown = CliRunner().invoke(app, ["ledger", "show", "-w", str(tmp_path / "ws")])
    assert shown.exit_code == 0, shown.output
    assert "interrupted before it was recorded" not in shown.output  # nothing to put right


def test_export_refuses_what_it_cannot_do(tmp_path):
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(50, seed=7), source)
    ws = store.init_workspace(tmp_path / "ws")
    customers.load(ws, str(source))
    (tmp_path / "taken.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="never overwrites"):
        exporter.export(ws, str(source), tmp_path / "taken.csv", recipient="r", purpose="p")
    with pytest.raises(ConfigError, match="cannot write"):
        exporter.export(ws, str(source), tmp_path / "out.docx", recipient="r", purpose="p")
    with pytest.raises(ConfigError, match="needs --sample"):
        exporter.export(
            ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p", segment="city=x"
        )
    with pytest.raises(ConfigError, match="is a folder; name the file to write"):
        exporter.export(ws, str(source), tmp_path, recipient="r", purpose="p")
    with pytest.raises(ConfigError, match="nodir is not a folder; create it"):
        exporter.export(ws, str(source), tmp_path / "nodir" / "o.csv", recipient="r", purpose="p")
    header_only = tmp_path / "header.csv"
    header_only.write_text("姓名,手机号\n", encoding="utf-8")
    for sample in (None, 3):  # read ahead, or chosen first
        with pytest.raises(SourceError, match=r"header\.csv: the table has no rows"):
            exporter.export(
                ws, str(header_only), tmp_path / "o.csv", recipient="r", purpose="p", sample=sample
            )
    assert not list(tmp_path.glob("*o.csv*"))
    ws.config["release"] = {"roles": {"x": {"marks": ["nosuch"]}}}
    with pytest.raises(ConfigError, match="marks 'nosuch', which this table does not have"):
        exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p", role="x")
    assert store.releases(ws.db) == [] and ledger.entries(ws) == []
    ws.close()


def test_rows_that_cannot_be_read_are_reported_not_silently_dropped(tmp_path):
    """A row with too many fields is left out of the release, the register's load and the
    match: each says how many and where, and the ledger records the count."""
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(120, seed=9), source)
    lines = source.read_text(encoding="utf-8").splitlines()
    lines[5] += ',"extra"'
    lines[40] += ',"extra","more"'
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = "2 rows of " + str(source) + " could not be read and were left out (line 6: wrong"
    with store.init_workspace(tmp_path / "ws") as ws:
        loaded = customers.load(ws, str(source))
        assert loaded.rows == 118 and loaded.unread.startswith(expected)
        assert customers.match(ws, str(source)).unread.startswith(expected)
        made = exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p")
        assert made.customers == 118 and made.warnings[0].startswith(expected)
        assert "line 41: wrong number of fields" in made.warnings[0]
        body = ledger.entries(ws, kind="release")[-1].body
        assert body["source_rows_unread"] == 2


def test_rows_of_no_registered_customer_and_a_sample_too_large_are_said(tmp_path):
    """Rows the register does not know are released unrecorded and unmarked: the export says
    how many (and records it); so too when --sample asks for more customers than there are."""
    people = synth.customers(200, seed=10)
    source, known = tmp_path / "c.csv", tmp_path / "known.csv"
    pacsv.write_csv(people, source)
    pacsv.write_csv(people.slice(0, 150), known)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(known))
        made = exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p")
        assert made.customers == 150
        assert made.warnings[0].startswith("50 of 200 rows name no customer of the register")
        assert ledger.entries(ws, kind="release")[-1].body["rows_without_customer"] == 50
        sampled = exporter.export(
            ws, str(source), tmp_path / "s.csv", recipient="s", purpose="p", sample=500
        )
        assert sampled.customers == 150
        assert sampled.warnings[0] == (
            "--sample 500 asked for more customers than the source holds: all 150 were released"
        )


def test_a_segment_attribute_the_register_lacks_is_named(tmp_path):
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(300, seed=3), source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        with pytest.raises(ConfigError, match="has the attribute 'nosuch'; the attributes loaded"):
            exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p",
                            sample=10, segment="nosuch=1")  # fmt: skip
        with pytest.raises(ConfigError, match="matches the segment"):
            exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p",
                            sample=10, segment="province=nowhere")  # fmt: skip
        assert store.segment_attributes(ws.db) == ["branch_code", "open_date", "province"]


def test_cli_export_json(tmp_path):
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(200, seed=8), source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
    result = CliRunner().invoke(
        app,
        ["export", str(source), "-o", str(tmp_path / "out.parquet"), "--to", "partner",
         "--purpose", "audit", "--approver", "王经理", "-w", str(tmp_path / "ws"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["approver"] == "王经理" and data["customers"] == 200 and data["decoys"] == 6
    assert "decoy_phone_pool" in result.stderr  # no pool configured: decoys have no phone


_EXPORTER = """
import sys
from leaktrace import ledger, store
from leaktrace.release import export, writers
point = sys.argv[3]

def stop_here():
    print(point, flush=True)
    sys.stdin.readline()  # the test kills this process here with SIGKILL

def after(function):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        stop_here()
        return result
    return wrapped

def before(function):
    def wrapped(*args, **kwargs):
        stop_here()
        return function(*args, **kwargs)
    return wrapped

export.BATCH_ROWS = 100
if point == "writing":  # the second batch is being written
    writers._CsvSink._write = after(writers._CsvSink._write)
elif point == "recording":  # inside the transaction that records the release
    ledger.append = before(ledger.append)
elif point == "recorded":  # the ledger entry is committed, the file not yet in place
    export.os.replace = before(export.os.replace)
ws = store.open_workspace(sys.argv[1])
export.export(ws, sys.argv[2], sys.argv[4], recipient="partner", purpose="campaign")
"""


@pytest.mark.parametrize("point", ["writing", "recording", "recorded"])
def test_kill_9_mid_export_leaves_no_entry_without_file_nor_file_without_entry(tmp_path, point):
    import os
    import signal
    import sys

    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(400, seed=8), source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
    out = tmp_path / "release.csv"
    exporting = subprocess.Popen(
        [sys.executable, "-c", _EXPORTER, str(tmp_path / "ws"), str(source), point, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert exporting.stdout.readline().strip() == point
    finally:
        os.killpg(exporting.pid, signal.SIGKILL)
        exporting.wait()
    assert exporting.returncode == -signal.SIGKILL
    assert not out.exists()  # the file is renamed into place last
    shown = CliRunner().invoke(app, ["ledger", "show", "-w", str(tmp_path / "ws")])
    assert shown.exit_code == 0, shown.output
    expected = "now in place" if point == "recorded" else "interrupted before it was recorded"
    assert expected in shown.output  # the next command says so…
    assert not list(tmp_path.glob(".release.csv.*.partial"))
    with store.open_workspace(tmp_path / "ws") as ws:  # …and the two agree
        entries = ledger.entries(ws, kind="release")
        if point == "recorded":
            (entry,) = entries
            assert out.exists() and writers.sha256(out) == entry.body["output_sha256"]
        else:
            assert entries == [] and not out.exists()
            assert [e.kind for e in ledger.entries(ws)] == ["release_aborted"]
        assert ledger.verify(ws).ok


def _as_libreoffice_reads(csv: Path, folder: Path) -> tuple[tuple, dict[str, set[str]]]:
    """The header and, per column, the cell types (number, text, date, boolean) of the non-empty
    cells, as LibreOffice Calc reads a CSV (converted headless to XLSX, then read back)."""
    from openpyxl import load_workbook

    folder.mkdir(exist_ok=True)
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{folder / 'profile'}", "--headless",
         "--convert-to", "xlsx", "--infilter=CSV:44,34,76,1", "--outdir", str(folder), str(csv)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    sheet = load_workbook(folder / f"{csv.stem}.xlsx", read_only=True).active
    rows = sheet.iter_rows()
    header = tuple(cell.value for cell in next(rows))
    types: dict[str, set[str]] = {name: set() for name in header}
    for row in rows:
        for name, cell in zip(header, row, strict=False):
            if cell.value is not None:
                types[name].add(cell.data_type)
    return header, types


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_a_marked_csv_opens_in_libreoffice_with_the_same_columns_and_types(released, tmp_path):
    _folder, source, (a, _b) = released
    header, types = _as_libreoffice_reads(source, tmp_path / "source")
    marked_header, marked_types = _as_libreoffice_reads(Path(a.output), tmp_path / "marked")
    assert marked_header == header and len(header) == len(_people().column_names)
    assert marked_types == types
    assert types["credit_limit"] == {"n"} and types["birth_date"] == {"d"}


@pytest.mark.parametrize("sample", [None, 1500])
def test_marks_made_ahead_in_a_thread_write_the_serial_bytes(tmp_path, monkeypatch, sample):
    """The pipelined export (a batch marked in a thread while the one before gets its decoys)
    writes, byte for byte, what marking every batch in order writes, and records the same."""
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(3000, seed=31), source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
    monkeypatch.setattr(exporter, "BATCH_ROWS", 700)
    written = {}
    for ahead in (True, False):
        folder = tmp_path / str(ahead)
        shutil.copytree(tmp_path / "ws", folder)
        monkeypatch.setattr(exporter, "MARK_AHEAD", ahead)
        with store.open_workspace(folder) as ws:
            made = exporter.export(
                ws, str(source), folder / "out.csv", recipient="r", purpose="p", sample=sample
            )
            members = ws.db.execute(
                "SELECT customer_id FROM release_customers ORDER BY 1"
            ).fetchall()
            decoys = ws.db.execute("SELECT * FROM decoy_tokens ORDER BY ALL").fetchall()
        written[ahead] = ((folder / "out.csv").read_bytes(), made.output_sha256, members, decoys)
    assert written[True] == written[False]
    assert made.decoys > 0 and made.marked_fields


def test_customer_numbers_the_identifiers_contradict_are_not_trusted(tmp_path):
    """A list whose customer-number column names one customer on every row (a column pasted
    wrong): the numbers do not agree with the rows' identifiers, so each row's customer is the
    one its identifiers name, and the release holds every one of them."""
    people = synth.customers(400, seed=7)
    source = tmp_path / "c.csv"
    pacsv.write_csv(people, source)
    first = people["customer_id"][0].as_py()
    listing = tmp_path / "list.csv"
    pacsv.write_csv(people.set_column(0, "customer_id", pa.array([first] * 400)), listing)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        wrong = exporter.export(ws, str(listing), tmp_path / "o.csv", recipient="r", purpose="p")
        right = exporter.export(ws, str(source), tmp_path / "p.csv", recipient="r", purpose="p")
    assert wrong.customers == right.customers == 400


def test_a_decoy_identifier_is_handed_out_once_per_release(tmp_path, monkeypatch):
    """Decoys are made batch by batch; each batch's draws avoid what earlier batches' decoys
    were given (by kind), so no two decoys of a release share an identifier."""
    source = tmp_path / "c.csv"
    pacsv.write_csv(synth.customers(3000, seed=33), source)
    monkeypatch.setattr(exporter, "BATCH_ROWS", 300)
    made_ids: list[pa.Table] = []
    given: dict[str, set[str]] = {}
    keep_tokens, keep_record = exporter.decoy_tokens, exporter._Mixer.record

    def tokens(workspace, made, first):
        if made is not None:
            made_ids.append(made.identifiers)
        return keep_tokens(workspace, made, first)

    def record(mixer, *args):
        given.update(mixer.given)
        return keep_record(mixer, *args)

    monkeypatch.setattr(exporter, "decoy_tokens", tokens)
    monkeypatch.setattr(exporter._Mixer, "record", record)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        made = exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p")
    everything = pa.concat_tables(made_ids)
    assert len(made_ids) == 10 and everything.num_rows >= made.decoys * 3
    for kind in set(everything["type"].to_pylist()):
        values = everything.filter(pc.equal(everything["type"], kind))["value"].to_pylist()
        assert given[kind] == set(values), kind
        if kind in ("resident_id", "customer_id", "bank_card"):
            assert len(values) == len(set(values)) == made.decoys, kind
