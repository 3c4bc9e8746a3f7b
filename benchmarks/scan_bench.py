"""Speed of `leaktrace scan`: a full scan of a 1,000,000-row customer table, and the text engine
against Microsoft Presidio and a bare polars `str.extract_all` on the same rows' text.

1. Full scan: a synthetic 10-column customer table (name, mobile, ID, bank card, email, plate,
   address, loan balance, open date, free-text 备注) as CSV, `scan --full` in a process of its
   own (imports not timed): rows/s, peak memory, and CPU seconds of the parent and its workers
   (the machine is shared). Once with leaktrace installed as the README's quick start installs
   it (benchmarks/.venv-product), then in this environment, whose development tools bring
   pandas and scipy, which pyarrow and numba import on first use (~0.45 s of the start).
2. Text: the first rows of the same table, each row's cells joined into one line (and the
   remarks alone). leaktrace's column path, Presidio's AnalyzerEngine (no-op NLP engine, pattern
   recognizers for the same Chinese types; run in its own virtualenv, benchmarks/.venv-peers),
   and polars `str.extract_all` of equivalent patterns (the engine's limit, no validation).
   leaktrace and polars read the whole column once to warm up (a long scan reads fifty such
   batches), then the median of five reads is taken: one read of 0.1 s swings with the
   machine's neighbours, where Presidio's 20,000 calls of several seconds average them out.
   leaktrace reads a long column in one thread per core, as polars does. Throughput as ratios
   measured in one run, of wall seconds and of CPU seconds (the machine is shared: a
   neighbour's load slows whichever engine runs while it lasts, CPU seconds much less so), and
   recall/precision of leaktrace and Presidio against the ground truth for mobile,
   resident ID, bank card, email and plate.

3. With ``--huge GB`` only: the table's rows repeated into a file of GB gigabytes, scanned by
   the ``leaktrace`` command (sampled, then ``--full``) with the peak memory of its process
   tree (the issue's bad-input list: a 5 GB CSV scanned in under 1 GB of memory).

usage: python benchmarks/scan_bench.py [--rows 1000000] [--text-rows 20000] [--huge GB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, ensure_peers, ensure_product, machine, peak_rss_mib, run_measured

from leaktrace import scan, synth

COLUMNS = ["name", "mobile", "id_number", "card_number", "email", "plate", "address",
           "loan_balance", "open_date"]  # fmt: skip
CELL_TYPES = {"mobile": "mobile", "id_number": "resident_id", "card_number": "bank_card",
              "email": "email", "plate": "plate"}  # fmt: skip
TYPES = ("mobile", "resident_id", "bank_card", "email", "plate")
PRESIDIO_TYPES = {"CN_MOBILE": "mobile", "CN_RESIDENT_ID": "resident_id",
                  "CN_BANK_CARD": "bank_card", "CREDIT_CARD": "bank_card",
                  "EMAIL_ADDRESS": "email", "CN_PLATE": "plate"}  # fmt: skip
# The same shapes as the Presidio recognizers, in Rust regex syntax (no look-arounds).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
POLARS_PATTERN = (
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
    rf"|[{PROVINCES}][A-HJ-NP-Z][·\- ]?[A-HJ-NP-Z0-9]{{5,6}}"
    r"|[0-9]{17}[0-9Xx]|62[0-9]{14,17}|1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}"
)


def table_file(rows: int, seed: int) -> Path:
    """The benchmark table as CSV (cached in benchmarks/out)."""
    path = OUT / f"customers_{rows}_{seed}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    for batch in synth.customer_batches(rows, seed, columns=COLUMNS, remarks=True):
        if writer is None:
            writer = pacsv.CSVWriter(partial, batch.schema)
        writer.write_batch(batch)
        print(f"  generated {writer and batch.num_rows} rows …", file=sys.stderr, end="\r")
    writer.close()
    partial.replace(path)
    return path


def full_scan(path: Path, rows: int) -> dict:
    """`scan --full` of the table in this process: wall seconds, and CPU seconds of this process
    and its workers (the machine is shared: CPU seconds say what the scan costs whatever else
    runs)."""
    before = _cpu_seconds()
    started = time.perf_counter()
    (result,) = scan.scan([str(path)], full=True)
    seconds = time.perf_counter() - started
    parent, workers = (after - start for after, start in zip(_cpu_seconds(), before, strict=True))
    assert result.error is None and result.rows_scanned == rows, result.error
    return {
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "cpu_parent": parent,
        "cpu_workers": workers,
        "load": os.getloadavg()[0],
        "peak_rss_mib": peak_rss_mib(),
        "columns": {c.name: c.detected for c in result.columns},
    }


def full_scan_in(python: Path | str, path: Path, rows: int) -> dict:
    """:func:`full_scan` in a fresh process of ``python`` (leaktrace's imports not timed)."""
    command = [str(python), __file__, "--full-only", "--rows", str(rows)]
    # As on a user's machine, modules are compiled once and kept (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which compiles leaktrace's modules from source at every start).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout)


def huge_file(path: Path, gigabytes: float) -> Path:
    """The benchmark table's rows repeated until the file holds ``gigabytes`` GB (header once;
    cached in benchmarks/out)."""
    huge = OUT / f"customers_huge_{gigabytes:g}GB.csv"
    if huge.exists():
        return huge
    partial = huge.with_suffix(".partial")
    with path.open("rb") as source:
        header = source.readline()
        body = source.read()
    with partial.open("wb") as sink:
        sink.write(header)
        while sink.tell() < gigabytes * 1e9:
            sink.write(body)
    partial.replace(huge)
    return huge


def huge_scans(path: Path) -> None:
    """`leaktrace scan` (sampled) and `leaktrace scan --full` of a huge file, each in a process
    of its own: wall seconds and the peak memory of the process tree (Pss, workers included)."""
    leaktrace = ensure_product().with_name("leaktrace")
    size = path.stat().st_size
    for options in ([], ["--full"]):
        command = [str(leaktrace), "scan", *options, "--json", str(path)]
        seconds, peak, output = run_measured(command, stderr=subprocess.DEVNULL)
        (result,) = json.loads(output)
        print(
            f"scan {' '.join(options) or '(sampled)'} of {size / 1e9:.1f} GB: {seconds:.0f} s, "
            f"{size / 1e6 / seconds:,.0f} MB/s, {result['rows_scanned']:,} rows, peak memory "
            f"{peak:,.0f} MiB (process tree)"
        )


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def text_lines(path: Path, rows: int) -> tuple[list[str], list[str], list[list[tuple]]]:
    """(row lines, remarks, truth spans per row line) for the first ``rows`` rows."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 20),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in [*COLUMNS, "remark"]}
        ),
    )
    batches, held = [], 0
    for batch in reader:  # the first rows only, not the whole 224 MB file
        batches.append(batch)
        held += batch.num_rows
        if held >= rows:
            break
    table = pa.Table.from_batches(batches).slice(0, rows)
    notes = synth.remarks(synth.customers(rows, SEED), SEED)
    data = table.to_pydict()
    lines, truths = [], []
    for i in range(table.num_rows):
        parts, spans, offset = [], [], 0
        for column in COLUMNS:
            value = data[column][i] or ""
            if column in CELL_TYPES and value:
                spans.append((CELL_TYPES[column], offset, offset + len(value)))
            parts.append(value)
            offset += len(value) + 1
        remark = data["remark"][i] or ""
        assert remark == notes[i].text
        spans += [(t.type, offset + t.start, offset + t.end) for t in notes[i].spans]
        parts.append(remark)
        lines.append(" ".join(parts))
        truths.append([s for s in spans if s[0] in TYPES])
    return lines, data["remark"], truths


def score(found: list[list[tuple]], truths: list[list[tuple]]) -> dict[str, dict[str, float]]:
    """Precision and recall per type: a found span counts if it overlaps a truth of its type."""
    result = {}
    for kind in TYPES:
        tp = fp = fn = 0
        for got, want in zip(found, truths, strict=True):
            want = [t for t in want if t[0] == kind]
            used = [False] * len(want)
            for span in (s for s in got if s[0] == kind):
                hit = next(
                    (j for j, t in enumerate(want)
                     if not used[j] and span[1] < t[2] and t[1] < span[2]),
                    None,
                )  # fmt: skip
                if hit is None:
                    fp += 1
                else:
                    used[hit] = True
                    tp += 1
            fn += used.count(False)
        result[kind] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
        }
    return result


def timed(function, runs: int = 5) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): the run of median wall time, of ``runs``
    calls after one call to warm up."""
    function()
    times = []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        function()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    return sorted(times)[runs // 2]


def leaktrace_text(lines: list[str]) -> tuple[tuple[float, float], list[list[tuple]]]:
    """(Wall, CPU) seconds for the column path over all lines, and per-line spans (scalar path,
    for recall)."""
    column = pa.array(lines)
    seconds = timed(lambda: scan.find_in_column(column))
    from leaktrace import identifiers

    spans = [[(s.type, s.start, s.end) for s in identifiers.find_all(line)] for line in lines]
    return seconds, spans


def leaktrace_same_types(lines: list[str]) -> tuple[float, float]:
    """(Wall, CPU) seconds for leaktrace's column path over the pattern and numeric types only
    (Presidio's five plus fixed line, passport and USCC; no names, no addresses)."""
    from leaktrace.identifiers import _column_text

    column = pa.array(lines)
    return timed(lambda: _column_text.find_spans(column))


def presidio_text(lines: list[str]) -> tuple[tuple[float, float], list[list[tuple]]]:
    python = ensure_peers("presidio-analyzer")
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "lines.txt", Path(tmp) / "out.json"
        source.write_text("\n".join(lines), encoding="utf-8")
        script = Path(__file__).parent / "peers" / "presidio_scan.py"
        subprocess.run([str(python), str(script), str(source), str(out)], check=True)
        data = json.loads(out.read_text())
    spans: list[list[tuple]] = [[] for _ in lines]
    for line, start, end, entity in data["spans"]:
        if entity in PRESIDIO_TYPES:
            spans[line].append((PRESIDIO_TYPES[entity], start, end))
    return (data["seconds"], data["cpu_seconds"]), spans


def polars_text(lines: list[str]) -> tuple[float, float]:
    """(Wall, CPU) seconds of polars; CPU counts every thread of its pool."""
    frame = pl.DataFrame({"text": lines})
    return timed(lambda: frame.select(pl.col("text").str.extract_all(POLARS_PATTERN)))


SEED = 11


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--text-rows", type=int, default=20_000)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--full-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--huge", type=float, metavar="GB", help="only scan a file of GB GB")
    args = parser.parse_args()
    path = table_file(args.rows, SEED)
    if args.full_only:  # one full scan in this process, as JSON (see full_scan_in)
        print(json.dumps(full_scan(path, args.rows)))
        return
    if args.huge:
        huge_scans(huge_file(path, args.huge))
        return
    print(f"machine: {machine()}")
    size_mb = path.stat().st_size / 1e6
    print(f"table: {args.rows:,} rows × 10 columns, {size_mb:,.0f} MB CSV")
    if not args.skip_full:
        # The product as the README installs it, then this (development) environment.
        for label, python in (("product install", ensure_product()), ("dev", sys.executable)):
            full = full_scan_in(python, path, args.rows)
            print(
                f"scan --full ({label}): {full['seconds']:.2f} s, {full['rows_per_s']:,.0f} "
                f"rows/s, peak RSS {full['peak_rss_mib']:,.0f} MiB; CPU s: parent "
                f"{full['cpu_parent']:.1f}, workers {full['cpu_workers']:.1f}; load average "
                f"{full['load']:.1f}"
            )
        print(f"  columns: {full['columns']}")
    lines, remarks, truths = text_lines(path, args.text_rows)
    for label, texts in (("row lines", lines), ("remarks only", remarks)):
        megabytes = sum(len(t.encode()) for t in texts) / 1e6
        ours, ours_spans = leaktrace_text(texts)
        same = leaktrace_same_types(texts)
        polars = polars_text(texts)
        print(f"\ntext: {label}, {len(texts):,} rows, {megabytes:.1f} MB UTF-8")
        print("| engine | seconds | CPU s | MB/s | rows/s | × Presidio | × Presidio, CPU |")
        print("|---|---|---|---|---|---|---|")
        if label == "row lines":
            presidio, presidio_spans = presidio_text(texts)
        else:
            presidio = None
        engines = (
            ("Presidio (5 types)", presidio),
            ("leaktrace, pattern types (5 + 3)", same),
            ("leaktrace, all types incl. names and addresses", ours),
            ("polars extract_all (5 patterns, no validation)", polars),
        )
        for name, times in engines:
            if times is None:
                continue
            (seconds, cpu) = times
            ratio = f"{presidio[0] / seconds:.0f}" if presidio else "—"
            cpu_ratio = f"{presidio[1] / cpu:.0f}" if presidio else "—"
            print(
                f"| {name} | {seconds:.2f} | {cpu:.2f} | {megabytes / seconds:.1f} | "
                f"{len(texts) / seconds:,.0f} | {ratio} | {cpu_ratio} |"
            )
        print(
            f"leaktrace (pattern types) / polars throughput: {polars[0] / same[0]:.2f} "
            f"(CPU: {polars[1] / same[1]:.2f})"
        )
        if label == "row lines":
            print("| type | leaktrace P | leaktrace R | Presidio P | Presidio R |")
            print("|---|---|---|---|---|")
            mine, theirs = score(ours_spans, truths), score(presidio_spans, truths)
            for kind in TYPES:
                a, b = mine[kind], theirs[kind]
                print(
                    f"| {kind} | {a['precision']:.3f} | {a['recall']:.3f} | "
                    f"{b['precision']:.3f} | {b['recall']:.3f} |"
                )


if __name__ == "__main__":
    main()
