"""Labelled evaluation of `leaktrace scan`: column typing accuracy and free-text precision/recall.

The set is built from `leaktrace.synth` (never from the scanner's own finders): one synthetic
bank, written as several files the way lists really arrive — Chinese headers, renamed and
English headers, no header at all, reformatted values (+86, dashes, full-width digits, lower-case
x, 15-digit IDs, traditional characters, plate separators), masked values (138****5678, 张*),
merged columns (姓名+电话 in one cell, key-value lines), a GBK-encoded CSV and an XLSX sheet. Every
column has an expected label; every remark has ground-truth spans (`synth.remarks`).

usage: python benchmarks/scan_eval.py [--rows 2500] [--seed 7] [--write-results]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter
from pathlib import Path

import openpyxl
import pyarrow as pa
from opencc import OpenCC

sys.path.insert(0, str(Path(__file__).parent))
from _common import OUT, machine

from leaktrace import identifiers, scan, synth
from leaktrace.identifiers import bank_card, mobile, resident_id

STRICT_TYPES = ("mobile", "resident_id", "bank_card", "email", "plate")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _reformat_mobile(value: str, rnd: random.Random) -> str:
    choice = rnd.randrange(4)
    if choice == 0:
        return f"+86 {value[:3]} {value[3:7]} {value[7:]}"
    if choice == 1:
        return f"{value[:3]}-{value[3:7]}-{value[7:]}"
    if choice == 2:
        return value.translate(FULLWIDTH)
    return "0086" + value


def _legacy_id(value: str) -> str | None:
    """The 15-digit form of an 18-digit ID born in the 1900s (year without century, no check)."""
    if value[6:8] != "19":
        return None
    return value[:6] + value[8:17]


def _reformat_id(value: str, rnd: random.Random) -> str:
    legacy = _legacy_id(value)
    if legacy and rnd.random() < 0.3:
        return legacy
    return value.lower() if rnd.random() < 0.5 else value


def _mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1)


def build(rows: int, seed: int, folder: Path) -> tuple[list[tuple[Path, dict[str, str]]], list]:
    """Write the labelled files; return [(path, {column: expected label})] and the remarks."""
    folder.mkdir(parents=True, exist_ok=True)
    table = synth.customers(rows, seed)
    notes = synth.remarks(table, seed)
    data = table.to_pydict()
    rnd = random.Random(seed)
    t2s = OpenCC("s2t")
    remark_text = [n.text for n in notes]
    files: list[tuple[Path, dict[str, str]]] = []

    def write_csv(name: str, header: list[str] | None, columns: list[list], labels: list[str],
                  encoding: str = "utf-8") -> None:  # fmt: skip
        path = folder / name
        with path.open("w", encoding=encoding, newline="") as file:
            writer = csv.writer(file)
            if header:
                writer.writerow(header)
            writer.writerows(zip(*columns, strict=True))
        names = header or [f"column_{i + 1}" for i in range(len(columns))]
        files.append((path, dict(zip(names, labels, strict=True))))

    # 1. A register export with Chinese headers, UTF-8.
    write_csv(
        "standard.csv",
        ["姓名", "手机号", "身份证号", "银行卡号", "邮箱", "车牌号", "地址", "贷款余额",
         "信用卡额度", "出生日期", "性别", "户籍", "收入形式", "备注", "网点代码", "开户日期"],
        [data["name"], data["mobile"], data["id_number"], data["card_number"], data["email"],
         data["plate"], data["address"], data["loan_balance"], data["credit_limit"],
         data["birth_date"], data["gender"], data["hukou"], data["income_form"], remark_text,
         data["branch_code"], data["open_date"]],
        ["person_name", "mobile", "resident_id", "bank_card", "email", "plate", "address",
         "loan_balance", "credit_limit", "birth_date", "gender", "hukou", "income", "free_text",
         "none", "none"],
    )  # fmt: skip
    # 2. Renamed columns: English, pinyin abbreviations, meaningless names; GB18030 (GBK superset).
    write_csv(
        "renamed_gb18030.csv",
        ["khxm", "Tel", "zjhm", "col_4", "E-mail Address", "info", "Loan Balance", "DOB", "Sex",
         "note"],
        [data["name"], data["mobile"], data["id_number"], data["card_number"], data["email"],
         data["address"], data["loan_balance"], data["birth_date"], data["gender"], remark_text],
        ["person_name", "mobile", "resident_id", "bank_card", "email", "address", "loan_balance",
         "birth_date", "gender", "free_text"],
        encoding="gb18030",
    )  # fmt: skip
    # 3. A headerless list: name, mobile, ID, address, remark.
    write_csv(
        "headerless.txt",
        None,
        [data["name"], data["mobile"], data["id_number"], data["address"], remark_text],
        ["person_name", "mobile", "resident_id", "address", "free_text"],
    )
    # 4. A broker's reformatted list: +86/dashes/full width, lower-case x and 15-digit IDs,
    #    traditional characters, plates with separators, cards in groups of four.
    plates = [p and (p[:2] + rnd.choice("·- ") + p[2:]) for p in data["plate"]]
    cards = [" ".join(c[i : i + 4] for i in range(0, len(c), 4)) for c in data["card_number"]]
    write_csv(
        "reformatted.csv",
        ["客户", "联系电话", "证件号", "卡号", "车牌", "住址", "备注(繁体)"],
        [[t2s.convert(n) for n in data["name"]],
         [_reformat_mobile(m, rnd) for m in data["mobile"]],
         [_reformat_id(i, rnd) for i in data["id_number"]], cards, plates,
         [t2s.convert(a) for a in data["address"]], [t2s.convert(r) for r in remark_text]],
        ["person_name", "mobile", "resident_id", "bank_card", "plate", "address", "free_text"],
    )  # fmt: skip
    # 5. A masked "sample" (验货) list, as brokers send before a sale.
    write_csv(
        "masked.csv",
        ["姓名", "手机", "身份证", "银行卡"],
        [[_mask_name(n) for n in data["name"]], [mobile.mask(m) for m in data["mobile"]],
         [resident_id.mask(i) for i in data["id_number"]],
         [bank_card.mask(c) for c in data["card_number"]]],
        ["person_name", "mobile", "resident_id", "bank_card"],
    )  # fmt: skip
    # 6. Merged columns: name and phone in one cell; key-value lines.
    write_csv(
        "merged.csv",
        ["客户信息", "详情", "额度"],
        [[f"{n} {m}" for n, m in zip(data["name"], data["mobile"], strict=True)],
         [f"姓名:{n} 证件:{i} 电话:{m}" for n, i, m in
          zip(data["name"], data["id_number"], data["mobile"], strict=True)],
         data["credit_limit"]],
        ["free_text", "free_text", "credit_limit"],
    )  # fmt: skip
    # 7. An Excel sheet with a title row above the header.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["2024年12月 客户名单（内部资料）"])
    sheet.append(["姓名", "手机号码", "身份证号码", "车型", "车身颜色", "车牌号码", "备注"])
    for values in zip(data["name"], data["mobile"], data["id_number"], data["car_model"],
                      data["car_color"], data["plate"], remark_text, strict=True):  # fmt: skip
        sheet.append(list(values))
    xlsx = folder / "titled.xlsx"
    workbook.save(xlsx)
    files.append(
        (xlsx, {"姓名": "person_name", "手机号码": "mobile", "身份证号码": "resident_id",
                "车型": "vehicle", "车身颜色": "vehicle", "车牌号码": "plate",
                "备注": "free_text"})
    )  # fmt: skip
    return files, notes


def column_accuracy(files: list[tuple[Path, dict[str, str]]]) -> tuple[int, int, list[str]]:
    """(correct, total, mistakes) of column typing over every labelled file."""
    correct = total = 0
    mistakes = []
    for path, labels in files:
        (result,) = scan.scan([str(path)])
        if result.error:
            raise SystemExit(f"{path.name}: {result.error}")
        got = {c.name: c.detected or "none" for c in result.columns}
        for column, expected in labels.items():
            total += 1
            if got.get(column) == expected:
                correct += 1
            else:
                mistakes.append(f"{path.name}:{column}: expected {expected}, got {got.get(column)}")
    return correct, total, mistakes


def text_scores(notes: list) -> dict[str, tuple[int, int, int]]:
    """Per type (true positives, false positives, false negatives) over the remarks.

    A found span matches a truth of the same type that it overlaps; each truth matches once.
    """
    scores: dict[str, list[int]] = {}
    for note in notes:
        found = identifiers.find_all(note.text)
        truths = list(note.spans)
        used = [False] * len(truths)
        for span in found:
            hit = next(
                (i for i, t in enumerate(truths)
                 if not used[i] and t.type == span.type and span.start < t.end
                 and t.start < span.end),
                None,
            )  # fmt: skip
            tally = scores.setdefault(span.type, [0, 0, 0])
            if hit is None:
                tally[1] += 1
            else:
                used[hit] = True
                tally[0] += 1
        for truth, matched in zip(truths, used, strict=True):
            if not matched:
                scores.setdefault(truth.type, [0, 0, 0])[2] += 1
    return {k: tuple(v) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    files, notes = build(args.rows, args.seed, OUT / "scan_eval")
    correct, total, mistakes = column_accuracy(files)
    print(f"machine: {machine()}")
    print(f"rows per file: {args.rows}, seed {args.seed}, files: {len(files)}")
    print(f"column typing: {correct}/{total} = {correct / total:.1%}")
    for mistake in mistakes:
        print(f"  miss: {mistake}")
    truth_counts = Counter(t.type for n in notes for t in n.spans)
    print(f"free text: {len(notes)} remarks, {sum(truth_counts.values())} labelled identifiers")
    print("| type | labelled | precision | recall |")
    print("|---|---|---|---|")
    for kind, (tp, fp, fn) in sorted(text_scores(notes).items()):
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        print(f"| {kind} | {tp + fn} | {precision:.3f} | {recall:.3f} |")


if __name__ == "__main__":
    pa.set_cpu_count(2)
    main()
