"""The case report: HTML rendered by headless Chromium, PDF turned into pages (issue 7, acc. 4)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from leaktrace import customers, ledger, store, synth
from leaktrace.cli import app
from leaktrace.release import export as exporter

needs_tools = pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("pdftoppm") is None,
    reason="Chromium and poppler-utils are not installed",
)
RED = np.array([0xB0, 0x00, 0x20])  # the verdict's border (attributed) and the chart's bars


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    source = folder / "customers.csv"
    pacsv.write_csv(synth.customers(2000, seed=61), source)
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(source))
        release = exporter.export(ws, str(source), folder / "r.csv", recipient="partner-x",
                                  purpose="campaign", sample=400)  # fmt: skip
    table = pacsv.read_csv(release.output)
    rows = sorted(random.Random(3).sample(range(table.num_rows), 25))
    leak = folder / "leak.csv"
    pacsv.write_csv(table.take(pa.array(rows)), leak)
    report, pdf = folder / "case.html", folder / "case.pdf"
    command = ["trace", str(leak), "-w", str(folder / "ws"), "--json", "--report", str(report)]
    if shutil.which("chromium"):
        command += ["--pdf", str(pdf)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    return folder, release, json.loads(result.stdout), report, pdf


def test_the_case_is_recorded_and_cited_in_the_ledger(traced):
    folder, release, data, report, _pdf = traced
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        (case,) = store.cases(ws.db)
        (entry,) = ledger.entries(ws, kind="case")
    assert case["case_id"] == data["case_id"] and case["ledger_seq"] == entry.seq
    assert entry.body["verdict"]["release_id"] == release.release_id
    assert entry.body["report_sha256"] and entry.body["inputs"][0]["sha256"]
    html = report.read_text(encoding="utf-8")
    assert "ATTRIBUTED" in html and release.release_id in html
    listed = CliRunner().invoke(app, ["cases", "-w", str(folder / "ws"), "--json"])
    assert json.loads(listed.stdout)[0]["verdict"]["outcome"] == "attributed"


def test_no_raw_identifier_in_the_report(traced):
    folder, _release, _data, report, _pdf = traced
    leak = pacsv.read_csv(folder / "leak.csv", convert_options=pacsv.ConvertOptions(
        column_types={"id_number": pa.string(), "mobile": pa.string()}))  # fmt: skip
    html = report.read_text(encoding="utf-8")
    for column in ("id_number", "mobile"):
        for value in leak.column(column).drop_null().to_pylist():
            assert not value or value not in html


def _ppm(path) -> np.ndarray:
    """The pixels of a binary PPM (what pdftoppm writes by default)."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    width, height = int(fields[1]), int(fields[2])
    return np.frombuffer(fields[4], np.uint8)[: width * height * 3].reshape(height, width, 3)


@needs_tools
def test_chromium_renders_the_verdict_and_the_pdf_has_pages(traced, tmp_path):
    _folder, release, _data, report, pdf = traced
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert 'id="verdict"' in dom and release.release_id in dom
    subprocess.run(["pdftoppm", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.ppm"))
    assert pages
    first = _ppm(pages[0]).astype(int)
    red = np.abs(first - RED).sum(axis=2) < 60
    assert red.sum() > 20  # the verdict's red border is drawn
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "ATTRIBUTED" in text and "Legal tally" in text


def test_an_existing_report_is_never_overwritten(traced):
    """Another trace naming the same report file is refused before anything is traced: the
    earlier case still points to its own report."""
    folder, _release, _data, report, _pdf = traced
    before = report.read_bytes()
    command = ["trace", str(folder / "leak.csv"), "-w", str(folder / "ws"), "--report", str(report)]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and "never overwrites a report" in result.stderr
    assert report.read_bytes() == before
    with store.open_workspace(folder / "ws", read_only=True) as ws:
        assert len(store.cases(ws.db)) == 1
