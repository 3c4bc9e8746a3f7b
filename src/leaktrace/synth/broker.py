"""The broker (数据贩子): what happens to a leaked list before it turns up again.

Brokers merge lists from several sources, drop and rename columns, reformat numbers, convert
characters, dedupe, shuffle and pass on a free sample (验货) of a few dozen rows. :func:`resell`
plays that chain on a table of leaked rows, step by step and seeded, so tests, the demo and the
attribution benchmark can check that tracing survives it. Each step can be turned off.

>>> from leaktrace import synth
>>> leaked = synth.customers(40, seed=1)
>>> sample = resell(leaked, seed=2, keep=10)
>>> sample.num_rows, "客户号" in sample.column_names
(10, False)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

# Columns a broker keeps (by the synthetic tables' English or Chinese names) and what he calls
# them: headers of lists seen on the market.
KEPT = {
    "name": "客户姓名", "姓名": "客户姓名",
    "mobile": "联系电话", "手机号": "联系电话",
    "id_number": "证件号码", "身份证号": "证件号码",
    "address": "住址", "地址": "住址",
    "credit_limit": "额度", "信用卡额度": "额度",
    "loan_balance": "贷款", "贷款余额": "贷款",
    "car_model": "车型", "车型": "车型",
    "city": "城市", "城市": "城市",
}  # fmt: skip
STEPS = ("merge", "drop", "rename", "phones", "traditional", "shuffle")


def resell(
    leaked: pa.Table,
    seed: int,
    *,
    keep: int | None = 30,
    other: pa.Table | None = None,
    steps: Sequence[str] = STEPS,
) -> pa.Table:
    """``leaked`` as a broker passes it on: merged with ``other`` (another source's rows, as
    many as the leak, when given), columns dropped and renamed, phones reformatted
    (``+86 138-1234-5678``), names in traditional characters, rows shuffled, and a sample of
    ``keep`` rows (all when None). Values that mark a release (addresses, amounts) are kept as
    they are: brokers sell them."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown broker steps: {', '.join(sorted(unknown))}")
    rng = random.Random(seed)
    table = leaked
    if "drop" in steps:
        table = table.select([c for c in table.column_names if c in KEPT])
    if "rename" in steps:
        table = table.rename_columns([KEPT.get(c, c) for c in table.column_names])
    if "merge" in steps and other is not None:
        table = _as_text(table)
        # The other list's columns under this list's names, by what they hold.
        meaning = {KEPT.get(c, c): c for c in table.column_names}
        extra = other.select([c for c in other.column_names if KEPT.get(c, c) in meaning])
        extra = _as_text(
            extra.rename_columns([meaning[KEPT.get(c, c)] for c in extra.column_names])
        )
        table = pa.concat_tables([table, extra], promote_options="permissive")
    table = _as_text(table)
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if "phones" in steps and _is_phone_column(values):
            values = [_reformat_phone(v, rng) for v in values]
        if "traditional" in steps and name in ("客户姓名", "name", "姓名"):
            values = _traditional(values)
        table = table.set_column(table.column_names.index(name), name, pa.array(values))
    order = list(range(table.num_rows))
    if "shuffle" in steps:
        rng.shuffle(order)
    if keep is not None:
        order = order[:keep]
    return table.take(pa.array(np.array(order, dtype=np.int64)))


def _as_text(table: pa.Table) -> pa.Table:
    """Every column as text, as a broker's spreadsheet holds it."""
    return table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))


def _is_phone_column(values: list[str | None]) -> bool:
    present = [v for v in values if v]
    return bool(present) and all(len(v) == 11 and v.isdigit() and v[0] == "1" for v in present)


def _reformat_phone(value: str | None, rng: random.Random) -> str | None:
    if not value:
        return value
    return rng.choice(
        (f"+86 {value[:3]}-{value[3:7]}-{value[7:]}", f"{value[:3]} {value[3:7]} {value[7:]}",
         f"0086{value}", value)
    )  # fmt: skip


def _traditional(values: list[str | None]) -> list[str | None]:
    from opencc import OpenCC

    convert = OpenCC("s2t").convert
    return [None if v is None else convert(v) for v in values]
