"""Free-text scanning: the scalar text engine against the column path, on synthetic remarks.

What is timed, over the same cells (synthetic 备注 remarks, ``synth.customers(..., remarks=True)``):

* scalar: :func:`leaktrace.identifiers.find_all` over the cells joined with newlines, as
  ``scan.find_in_column`` did before the column path (Python ``re``, a call per candidate). It
  reads the same token grammar as the column path; the engine before that grammar (an
  alternation with look-arounds, commit 69e08ea) took 5.9 s for the pattern types over the
  default 200,000 remarks on the reference machine, 2.0 MB/s;
* column: :func:`leaktrace.identifiers._column_text.find_spans` (one RE2 pass, Arrow and NumPy
  checks) and ``find_in_texts`` (that plus the person-name and address finders), which is what
  ``scan.find_in_column`` runs now;
* bare engines, the ceilings: the token grammar alone in Python ``re`` (``findall``), in RE2
  (mark and cut, as the column path does for cells with an asterisk), in the compiled loop
  that cuts the other cells (``_token_scan``), and in polars ``str.extract_all`` (Rust regex).

"pattern types" means every type but person names and addresses. Times are medians of
``--repeat`` runs after a warm-up; the machine is noisy, so compare ratios from one run.

usage: python benchmarks/text_engine_bench.py [--rows 200000] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from _common import OUT, machine, peak_rss_mib

from leaktrace import identifiers, synth
from leaktrace.identifiers import _column_text, find_all, halfwidth

SHAPED = [name for name in identifiers.registry() if name not in ("person_name", "address")]


def remarks(rows: int, seed: int) -> pa.Array:
    """The remark column of ``rows`` synthetic customers, cached under benchmarks/out."""
    path = OUT / f"remarks_{rows}_{seed}.parquet"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        column = synth.customers(rows, seed, remarks=True).column("remark")
        pq.write_table(pa.table({"remark": column}), path)
    return pq.read_table(path).column("remark").combine_chunks()


def median_seconds(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls after one warm-up call, and the last result."""
    result = function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def polars_extract(column: pa.Array, source: str) -> int:
    import polars as pl  # only here: a polars thread pool must not exist before scan forks

    return pl.Series(column).str.extract_all(source).list.len().sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    column = remarks(args.rows, args.seed)
    texts = [text or "" for text in column.to_pylist()]
    joined = "\n".join(texts)
    megabytes = len(joined.encode()) / 1e6
    folded = _column_text.fold(column)
    rules = identifiers.grammar()
    print(machine())
    print(f"{args.rows:,} remarks, {megabytes:.1f} MB of UTF-8, median of {args.repeat} runs\n")

    runs: list[tuple[str, Callable[[], Any]]] = [
        ("scalar find_all, pattern types", lambda: find_all(joined, SHAPED)),
        ("column find_spans, pattern types", lambda: _column_text.find_spans(column)),
        ("scalar find_all, with finders", lambda: find_all(joined)),
        ("column find_in_texts, with finders", lambda: _column_text.find_in_texts(column, 5)),
        (
            "bare: Python re findall",
            lambda: len(rules.regex.findall(halfwidth(joined))),
        ),
        (
            "bare: RE2 mark and cut",
            lambda: len(_column_text._marked_tokens(folded, rules.source)[0]),
        ),
        ("bare: compiled cut", lambda: len(_column_text._tokens(folded, rules.source)[0])),
        ("bare: polars extract_all", lambda: polars_extract(folded, rules.source)),
    ]
    results: dict[str, tuple[float, Any]] = {}
    print(f"{'engine':40} {'seconds':>8} {'MB/s':>7} {'rows/s':>10} {'× scalar':>9}")
    for name, function in runs:
        seconds, result = median_seconds(function, args.repeat)
        results[name] = (seconds, result)
        base = results.get(
            "scalar find_all, with finders"
            if "finders" in name
            else "scalar find_all, pattern types"
        )
        ratio = f"{base[0] / seconds:8.1f}×" if base else ""
        print(
            f"{name:40} {seconds:8.3f} {megabytes / seconds:7.1f} {args.rows / seconds:10,.0f}"
            f" {ratio:>9}"
        )

    scalar = Counter(span.type for span in results["scalar find_all, pattern types"][1])
    found = results["column find_spans, pattern types"][1].counts()
    with_finders = Counter(span.type for span in results["scalar find_all, with finders"][1])
    print(f"\npattern counts agree: {scalar == found} {dict(found)}")
    print(f"counts with finders agree: {with_finders == results[runs[3][0]][1][0]}")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
