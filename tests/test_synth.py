"""Tests of the synthetic institution (leaktrace.synth).

Generated values are checked with libraries that know nothing of the generator: python-stdnum
(GB 11643 check, birth date, region table, Luhn), phonenumbers (CN mobile ranges), a GA 36 plate
pattern and province abbreviations written out here, OpenCC for traditional characters. The
identifier modules of leaktrace are run over the data too, since they must accept it.
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import re
import unicodedata
from pathlib import Path

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from opencc import OpenCC
from stdnum import luhn, numdb
from stdnum.cn import ric

from leaktrace import checksums, synth
from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import registry

# GA 36 abbreviations of the mainland provinces, written out independently of the data files.
PLATE_ABBREVIATIONS = {
    "北京市": "京", "天津市": "津", "河北省": "冀", "山西省": "晋", "内蒙古自治区": "蒙",
    "辽宁省": "辽", "吉林省": "吉", "黑龙江省": "黑", "上海市": "沪", "江苏省": "苏",
    "浙江省": "浙", "安徽省": "皖", "福建省": "闽", "江西省": "赣", "山东省": "鲁",
    "河南省": "豫", "湖北省": "鄂", "湖南省": "湘", "广东省": "粤", "广西壮族自治区": "桂",
    "海南省": "琼", "重庆市": "渝", "四川省": "川", "贵州省": "贵", "云南省": "云",
    "西藏自治区": "藏", "陕西省": "陕", "甘肃省": "甘", "青海省": "青", "宁夏回族自治区": "宁",
    "新疆维吾尔自治区": "新",
}  # fmt: skip
PLATE = re.compile(
    r"(?P<province>[京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新])"
    r"[A-HJ-NP-Z]"
    r"(?:[0-9A-HJ-NP-Z]{5}|[DF][0-9A-HJ-NP-Z][0-9]{4}|[0-9]{5}[DF])"
)
EMAIL = re.compile(r"[a-z0-9][a-z0-9._]*@[a-z0-9]+(?:\.[a-z0-9]+)+")
CN_MOBILE = phonenumbers.PhoneNumberType.MOBILE
LOC = numdb.get("cn/loc")
AS_OF = synth.AS_OF

N = 20_000


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return {kind: synth.customers(N, seed=11, kind=kind) for kind in synth.KINDS}


def column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()


def age(born: datetime.date, on: datetime.date = AS_OF) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def is_mobile(number: str) -> bool:
    parsed = phonenumbers.parse(number, "CN")
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) == CN_MOBILE


def region_known(code: str) -> bool:
    return any("county" in props for _, props in LOC.info(code))


# ---- determinism ---------------------------------------------------------------------------


def test_same_seed_same_rows():
    assert synth.customers(1000, seed=3).equals(synth.customers(1000, seed=3))


@pytest.mark.parametrize("n", [1, 77, synth.BLOCK_ROWS - 1, synth.BLOCK_ROWS + 5])
def test_fewer_rows_are_a_prefix(n):
    more = synth.customers(synth.BLOCK_ROWS + 10, seed=6, kind="insurer")
    assert synth.customers(n, seed=6, kind="insurer").equals(more.slice(0, n))


def test_other_seed_other_rows():
    first, second = synth.customers(200, seed=3), synth.customers(200, seed=4)
    assert set(column(first, "id_number")).isdisjoint(column(second, "id_number"))
    assert column(first, "name") != column(second, "name")


@pytest.mark.parametrize("batch_rows", [1, 999, synth.BLOCK_ROWS, 100_000])
def test_batches_do_not_change_rows(batch_rows):
    n = synth.BLOCK_ROWS + 1234
    whole = synth.customers(n, seed=5, columns=["customer_id", "name", "mobile", "id_number"])
    if batch_rows == 1:  # one row at a time is slow: check the first few
        n, whole = 50, whole.slice(0, 50)
    batches = list(
        synth.customer_batches(
            n,
            seed=5,
            batch_rows=batch_rows,
            columns=["customer_id", "name", "mobile", "id_number"],
        )
    )
    assert all(b.num_rows == batch_rows for b in batches[:-1])
    assert 0 < batches[-1].num_rows <= batch_rows
    assert pa.Table.from_batches(batches).equals(whole)


@pytest.mark.parametrize("kind", synth.KINDS)
def test_column_subset_has_the_full_tables_values(kind):
    full = synth.customers(3000, seed=8, kind=kind)
    names = full.column_names[::-3]
    subset = synth.customers(3000, seed=8, kind=kind, columns=names)
    assert subset.equals(full.select([n for n in full.column_names if n in names]))


def test_parquet_round_trip(tmp_path: Path):
    path = synth.write_customers(tmp_path / "bank.parquet", 5000, seed=2, batch_rows=1000)
    assert pq.read_table(path).equals(synth.customers(5000, seed=2))


def test_csv_with_chinese_header(tmp_path: Path):
    path = synth.write_customers(tmp_path / "list.csv", 300, seed=2, header="zh", kind="lender")
    table = pa_csv.read_csv(
        path, convert_options=pa_csv.ConvertOptions(column_types={"身份证号": pa.string()})
    )
    assert table.column_names[:5] == ["客户号", "姓名", "性别", "出生日期", "身份证号"]
    assert column(table, "身份证号") == column(
        synth.customers(300, seed=2, kind="lender"), "id_number"
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: synth.customers(3, kind="casino"), "kind"),
        (lambda: synth.customers(3, columns=["name", "shoe_size"]), "shoe_size"),
        (lambda: synth.customers(-1), "non-negative"),
        (lambda: synth.customers(10**8), "At most"),
        (lambda: synth.write_customers("x.xlsx", 3), "format"),
        (lambda: synth.write_customers("x.csv", 3, header="fr"), "header"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_zero_rows_has_the_schema():
    table = synth.customers(0, kind="insurer")
    assert table.num_rows == 0
    assert table.schema == synth.customer_schema("insurer")


# ---- identifiers are valid -----------------------------------------------------------------


@pytest.mark.parametrize("kind", synth.KINDS)
def test_resident_ids_are_valid_and_match_the_row(kind, tables):
    table = tables[kind]
    ids = column(table, "id_number")
    for number, born, gender in zip(
        ids, column(table, "birth_date"), column(table, "gender"), strict=True
    ):
        assert len(number) == 18
        assert ric.calc_check_digit(number) == number[-1]  # GB 11643 check character
        assert ric.get_birth_date(number) == born
        assert int(number[16]) % 2 == (gender == "男")
    assert all(region_known(code) for code in {n[:6] for n in ids})
    matrix = checksums.digit_matrix(pa.array(ids).to_numpy(zero_copy_only=False), 18)
    assert checksums.gb11643_valid_matrix(matrix).all()
    # python-stdnum also wants the region in use in the birth year; older people hold codes
    # first recorded in 1983-85, so only most adult numbers pass that stricter check.
    strict = sum(map(ric.is_valid, ids[:4000])) / 4000
    assert strict > (0.95 if kind == "education" else 0.5)


@pytest.mark.parametrize("kind", synth.KINDS)
def test_mobiles_are_cn_mobiles_and_unique(kind, tables):
    mobiles = column(tables[kind], "parent_mobile" if kind == "education" else "mobile")
    assert len(set(mobiles)) == len(mobiles)
    prefixes = collections.Counter(m[:3] for m in mobiles)
    assert all(
        is_mobile(f"{prefix}{'0' * 8}") and is_mobile(f"{prefix}{'9' * 8}") for prefix in prefixes
    )
    assert all(len(m) == 11 and m.isdigit() and is_mobile(m) for m in mobiles[:2000])
    china_mobile = sum(
        prefixes[p] for p in prefixes if p in {"134", "135", "136", "137", "138", "139"}
    )
    assert 0.15 < china_mobile / len(mobiles) < 0.5


@pytest.mark.parametrize("kind", ["bank", "lender"])
def test_cards_are_unionpay_luhn_valid_and_unique(kind, tables):
    cards = column(tables[kind], "card_number")
    assert len(set(cards)) == len(cards)
    assert all(c.startswith("62") and len(c) in (16, 19) and luhn.is_valid(c) for c in cards)
    assert {len(c) for c in cards} == {16, 19}


@pytest.mark.parametrize("kind", ["bank", "insurer", "lender"])
def test_plates_follow_ga36_and_the_home_province(kind, tables):
    table = tables[kind]
    owners = 0
    for plate, province, model in zip(
        column(table, "plate"), column(table, "province"), column(table, "car_model"), strict=True
    ):
        assert (plate is None) == (model is None)
        if plate is None:
            continue
        owners += 1
        match = PLATE.fullmatch(plate)
        assert match, plate
        assert match["province"] == PLATE_ABBREVIATIONS[province]
    assert 0.3 < owners / table.num_rows < 0.5
    assert any(len(p) == 8 for p in column(table, "plate") if p)  # new-energy plates


@pytest.mark.parametrize("kind", ["bank", "insurer", "lender"])
def test_emails_are_ascii_and_some_hold_the_mobile(kind, tables):
    table = tables[kind]
    pairs = [
        (e, m) for e, m in zip(column(table, "email"), column(table, "mobile"), strict=True) if e
    ]
    assert 0.2 < len(pairs) / table.num_rows < 0.45
    assert all(EMAIL.fullmatch(e) for e, _ in pairs)
    assert any(e.startswith(m + "@") for e, m in pairs)
    assert any(e.endswith("@qq.com") and e.split("@")[0].isdigit() for e, _ in pairs)


@pytest.mark.parametrize("kind", synth.KINDS)
def test_leaktrace_identifier_modules_accept_the_data(kind, tables):
    table = tables[kind]
    columns = {
        "resident_id": "id_number",
        "mobile": "parent_mobile" if kind == "education" else "mobile",
        "bank_card": "card_number",
        "email": "email",
        "plate": "plate",
        "address": "address",
    }
    modules = registry()
    for name, col in columns.items():
        if name not in modules or col not in table.column_names:
            continue
        values = table.column(col).drop_null()
        assert modules[name].valid_column(values).all(), name


def test_ages_and_dates(tables):
    for kind, table in tables.items():
        ages = [age(born) for born in column(table, "birth_date")]
        low, high = (6, 18) if kind == "education" else (18, 80)
        assert low <= min(ages) and max(ages) <= high, kind
        if kind != "education":
            opened = column(table, "open_date")
            born = column(table, "birth_date")
            assert all(b < o <= AS_OF for b, o in zip(born, opened, strict=True))
    adults = [age(b) for b in column(tables["bank"], "birth_date")]
    share_30s = sum(30 <= a < 40 for a in adults) / len(adults)
    assert 0.15 < share_30s < 0.3  # the census bulge, not a flat spread


def test_addresses_hold_province_city_and_a_place(tables):
    for kind, table in tables.items():
        rows = zip(
            column(table, "address"), column(table, "province"), column(table, "city"), strict=True
        )
        for address, province, city in rows:
            assert address.startswith((province, city)), (kind, address)
            assert re.search(r"[区市县]", address) and re.search(r"[0-9]", address)


def test_money_columns(tables):
    bank = tables["bank"]
    limits = [x for x in column(bank, "credit_limit") if x is not None]
    balances = [x for x in column(bank, "loan_balance") if x is not None]
    assert 0.45 < len(limits) / N < 0.65 and 0.2 < len(balances) / N < 0.4
    assert all(x > 0 for x in limits + balances)
    assert sum(x % 1 != 0 for x in balances) / len(balances) > 0.9  # balances carry fen
    assert sum(x % 1000 != 0 for x in limits) / len(limits) > 0.1
    lender = tables["lender"]
    for amount, balance in zip(
        column(lender, "loan_amount"), column(lender, "loan_balance"), strict=True
    ):
        assert 0 <= balance <= amount


def test_education_parents(tables):
    table = tables["education"]
    same = sum(
        student[0] == parent[0]
        for student, parent in zip(
            column(table, "student_name"), column(table, "parent_name"), strict=True
        )
    )
    assert 0.4 < same / N < 0.7  # fathers, and a few mothers, share the child's surname
    grades = collections.Counter(column(table, "grade"))
    assert set(grades) == {"一年级", "二年级", "三年级", "四年级", "五年级", "六年级",
                           "初一", "初二", "初三", "高一", "高二", "高三"}  # fmt: skip


# ---- names follow the surname table --------------------------------------------------------


def surname_of(name: str, shares: dict[str, float]) -> str:
    return name[:2] if name[:2] in shares else name[0]


def test_surname_distribution_matches_the_table():
    shares = synth.surname_shares()
    assert math.isclose(sum(shares.values()), 1)
    names = column(synth.customers(100_000, seed=21, columns=["name"]), "name")
    counts = collections.Counter(surname_of(n, shares) for n in names)
    assert set(counts) <= set(shares)
    top = sorted(shares, key=shares.get, reverse=True)[:10]
    for surname in top:
        expected = shares[surname] * len(names)
        assert abs(counts[surname] - expected) < 5 * math.sqrt(expected), surname
    # Pearson chi-square over surnames expected at least 20 times: within 6 sd of its mean.
    cells = [s for s in shares if shares[s] * len(names) >= 20]
    chi2 = sum((counts[s] - shares[s] * len(names)) ** 2 / (shares[s] * len(names)) for s in cells)
    df = len(cells) - 1
    assert chi2 < df + 6 * math.sqrt(2 * df)


def test_given_names_are_one_or_two_han_characters(tables):
    shares = synth.surname_shares()
    for name in column(tables["bank"], "name"):
        given = name[len(surname_of(name, shares)) :]
        assert 1 <= len(given) <= 2 and all("\u4e00" <= c <= "\u9fff" for c in given), name


# ---- reference data ------------------------------------------------------------------------


def test_district_table_agrees_with_stdnum():
    rows = synth._read_tsv("districts.tsv")
    assert len(rows) >= 100
    assert {row["province"] for row in rows} == set(PLATE_ABBREVIATIONS)
    for row in rows:
        info = dict(LOC.info(row["code"])[0][1]) | dict(LOC.info(row["code"])[1][1])
        assert info["province"] == row["province"]
        assert row["district"] in info["county"], row  # current or former name


def test_province_table_agrees_with_stdnum():
    for row in synth._read_tsv("provinces.tsv"):
        assert LOC.info(row["code"])[0][1]["province"] == row["name"]
        assert PLATE_ABBREVIATIONS[row["name"]] == row["plate"]


# ---- remarks -------------------------------------------------------------------------------

T2S = OpenCC("t2s")
SEPARATORS = re.compile(r"[\s\-·]")


def canonical(kind: str, surface: str) -> str:
    """Normalise a surface form independently of leaktrace's identifier modules."""
    text = unicodedata.normalize("NFKC", surface)
    if kind in ("person_name", "address"):
        return T2S.convert(text)
    text = SEPARATORS.sub("", text)
    if kind == "mobile":
        return re.sub(r"^(?:\+86|0086)", "", re.sub(r"[()]", "", text))
    if kind == "resident_id" and len(text) == 15:  # first-generation number
        body = text[:6] + "19" + text[6:]
        return body + checksums.gb11643_check_char(body)
    if kind == "plate":
        return T2S.convert(text[0]) + text[1:].upper()
    return text.lower() if kind == "email" else text.upper()


def valid_value(kind: str, value: str) -> bool:
    if kind == "mobile":
        return is_mobile(value)
    if kind == "resident_id":
        return ric.calc_check_digit(value) == value[-1] and region_known(value[:6])
    if kind == "bank_card":
        return luhn.is_valid(value) and value.startswith("62")
    if kind == "email":
        return EMAIL.fullmatch(value) is not None
    if kind == "plate":
        return PLATE.fullmatch(value) is not None
    return bool(value)


@pytest.fixture(scope="module")
def notes(tables) -> list[tuple[dict, synth.Remark]]:
    out = []
    for table in tables.values():
        rows = table.slice(0, 2500)
        out += zip(rows.to_pylist(), synth.remarks(rows, seed=4), strict=True)
    return out


def test_spans_point_at_their_text(notes):
    for _, note in notes:
        end = 0
        for span in note.spans:
            assert end <= span.start < span.end <= len(note.text)
            assert note.text[span.start : span.end] == span.surface
            end = span.end


def test_span_values_are_the_canonical_form(notes):
    kinds = collections.Counter()
    for row, note in notes:
        for span in note.spans:
            kinds[span.type, span.masked] += 1
            if span.masked:
                assert "*" in span.value or span.type == "person_name", span
                continue
            assert canonical(span.type, span.surface) == span.value, span
            assert valid_value(span.type, span.value), span
            own = {
                "resident_id": row.get("id_number"),
                "bank_card": row.get("card_number"),
                "email": row.get("email"),
                "plate": row.get("plate"),
                "address": row.get("address"),
            }
            if span.type in own:
                assert span.value == own[span.type]
    for kind in ("person_name", "mobile", "resident_id", "bank_card", "email", "plate", "address"):
        assert kinds[kind, False] > 20, kind
    for kind in ("person_name", "mobile", "resident_id", "bank_card"):
        assert kinds[kind, True] > 5, kind


def test_remarks_are_varied(notes):
    texts = [note.text for _, note in notes]
    empty = sum(not note.spans for _, note in notes)
    assert 0.3 < empty / len(notes) < 0.6
    skeletons = {re.sub(r"[0-9０-９]+", "#", note.text) for _, note in notes if not note.spans}
    shapes = set()
    for _, note in notes:
        text, cut = note.text, 0
        pieces = []
        for span in note.spans:
            pieces += [text[cut : span.start], "<" + span.type + ">"]
            cut = span.end
        shapes.add(re.sub(r"[0-9０-９]+", "#", "".join([*pieces, text[cut:]]))[:6])
    assert len(skeletons) > 40 and len(shapes) > 40
    assert any(T2S.convert(t) != t for t in texts)  # traditional characters
    assert any(re.search("[０-９]", t) for t in texts)  # full-width digits
    assert any(re.search(r"(?<![0-9])[0-9]{16,22}(?![0-9])", t) for t in texts)  # order numbers
    assert any(w in t for t in texts for w in ("王府井", "黄金", "高兴"))


def test_no_identifier_outside_the_spans(notes):
    """Look-alikes (order numbers, 400 numbers, dates) must not be valid identifiers: a scanner
    that finds one would be marked wrong."""
    for _, note in notes:
        text = unicodedata.normalize("NFKC", note.text)
        covered = set()
        for span in note.spans:
            covered.update(range(span.start, span.end))
        for match in re.finditer(r"(?<![0-9A-Za-z])[0-9]+[Xx]?(?![0-9A-Za-z])", text):
            if covered & set(range(match.start(), match.end())):
                continue
            digits = match.group().upper()
            assert not (len(digits) == 11 and is_mobile(digits)), note.text
            assert not (16 <= len(digits) <= 19 and luhn.is_valid(digits)), note.text
            assert not (len(digits) == 18 and ric.calc_check_digit(digits) == digits[-1]), note.text


def test_remarks_are_deterministic_per_customer(tables):
    table = tables["bank"].slice(0, 300)
    notes = synth.remarks(table, seed=9)
    assert notes == synth.remarks(table, seed=9)
    assert notes[10] == synth.remark(table.slice(10, 1).to_pylist()[0], seed=9)
    assert [n.text for n in synth.remarks(table.slice(100, 50), seed=9)] == [
        n.text for n in notes[100:150]
    ]
    with_column = synth.customers(300, seed=11, remarks=True)
    assert column(with_column, "remark") == [n.text for n in synth.remarks(with_column, seed=11)]


def test_remarks_table():
    table = synth.remarks_table(synth.customers(50, seed=1), seed=1)
    assert table.column_names == ["customer_id", "remark", "truth"]
    for text, truth in zip(column(table, "remark"), column(table, "truth"), strict=True):
        for span in truth:
            assert text[span["start"] : span["end"]]


# ---- the institution: branches, staff, portfolios, applications, access logs ----------------

WORLD_CUSTOMERS = 20_000
OFFICE_ROLES = ("customer_manager", "credit_officer", "back_office")


@pytest.fixture(scope="module")
def world() -> synth.Institution:
    return synth.institution(WORLD_CUSTOMERS, staff=150, seed=7, days=45)


@pytest.fixture(scope="module")
def activity(world) -> dict[str, pa.Table]:
    """The world's tables joined up as a DuckDB connection would see them."""
    return {
        "log": synth.access_log(world),
        "apps": synth.applications(world),
        "customers": synth.customers(
            WORLD_CUSTOMERS, seed=7, columns=["customer_id", "branch_code", "branch_name"]
        ),
        "staff": world.staff,
        "branches": world.branches,
        "portfolios": pa.Table.from_batches(list(world.portfolio_batches())),
    }


@pytest.fixture(scope="module")
def db(activity):
    import duckdb

    con = duckdb.connect()
    for name, table in activity.items():
        con.register(name, table)
    return con


def scalar(db, sql: str):
    return db.execute(sql).fetchall()[0][0]


def test_institution_is_reproducible(world, activity):
    again = synth.institution(WORLD_CUSTOMERS, staff=150, seed=7, days=45)
    assert again.staff.equals(world.staff) and again.branches.equals(world.branches)
    assert synth.access_log(again).equals(activity["log"])
    other = synth.institution(WORLD_CUSTOMERS, staff=150, seed=8, days=45)
    assert column(other.staff, "name") != column(world.staff, "name")
    assert synth.access_log(other, batch_rows=10_000).num_rows != activity["log"].num_rows


@pytest.mark.parametrize("batch_rows", [1_000, 77_777])
def test_access_log_rows_do_not_depend_on_the_batch_size(world, activity, batch_rows):
    batches = list(synth.access_batches(world, batch_rows=batch_rows))
    assert all(b.num_rows == batch_rows for b in batches[:-1])
    assert pa.Table.from_batches(batches).equals(activity["log"])


def test_written_files_do_not_depend_on_the_batch_size(tmp_path: Path):
    options = {"staff": 30, "days": 12, "seed": 3, "file_format": "parquet", "remarks": False}
    synth.write_institution(tmp_path / "a", 3000, batch_rows=500, **options)
    synth.write_institution(tmp_path / "b", 3000, batch_rows=100_000, **options)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == 6 and not any(n.endswith(".partial") for n in names)
    for name in names:
        assert pq.read_table(tmp_path / "a" / name).equals(pq.read_table(tmp_path / "b" / name))


@pytest.mark.parametrize("kind", ["bank", "insurer"])
def test_branch_table_holds_the_customers_branches(kind):
    world = synth.institution(5000, seed=4, kind=kind, days=1)
    branches = dict(zip(column(world.branches, "branch_code"),
                        column(world.branches, "branch_name"), strict=True))  # fmt: skip
    assert len(branches) == world.branches.num_rows  # codes are unique
    table = synth.customers(5000, seed=4, kind=kind, columns=["branch_code", "branch_name"])
    pairs = set(zip(column(table, "branch_code"), column(table, "branch_name"), strict=True))
    assert all(branches[code] == name for code, name in pairs)
    levels = collections.Counter(column(world.branches, "level"))
    assert levels["head_office"] == levels["call_centre"] == 1 and levels["province"] == 31
    opened = min(column(world.branches, "opened"))
    assert opened < min(column(synth.customers(5000, seed=4, kind=kind), "open_date"))


@pytest.mark.parametrize("kind", synth.KINDS)
def test_every_kind_has_an_institution(kind):
    world = synth.institution(3000, staff=60, seed=1, kind=kind, days=5)
    assert len(set(column(world.branches, "branch_code"))) == world.branches.num_rows
    roles = collections.Counter(column(world.staff, "role"))
    assert set(roles) <= set(synth.ROLES) and roles["call_centre"] > 0
    log = synth.access_log(world)
    assert log.num_rows > 0
    codes = set(column(world.branches, "branch_code"))
    assert set(column(log, "branch_code")) <= codes


def test_staff_directory(world, db):
    staff = world.staff
    assert len(set(column(staff, "staff_id"))) == staff.num_rows == 150
    assert len(set(column(staff, "ip"))) == staff.num_rows
    assert set(column(staff, "role")) == set(synth.ROLES)
    # Staff sit where their role works.
    placed = dict(db.execute(
        "select role, list_distinct(list(level)) from staff join branches using (branch_code) "
        "group by role"
    ).fetchall())  # fmt: skip
    assert placed["call_centre"] == ["call_centre"] and placed["it"] == ["head_office"]
    assert placed["back_office"] == ["province"]
    assert all(placed[role] == ["outlet"] for role in ("teller", "customer_manager"))
    joined, left = column(staff, "join_date"), column(staff, "leave_date")
    assert all(leave is None or join <= leave for join, leave in zip(joined, left, strict=True))
    start, end = world.start, world.start + datetime.timedelta(days=world.days - 1)
    assert any(leave is not None and leave < start for leave in left)  # former staff
    assert any(leave is not None and start <= leave <= end for leave in left)  # leavers
    assert any(start <= join <= end for join in joined)  # joiners


def test_staff_are_sized_by_customers():
    assert synth.default_staff(10_000_000) == 20_000
    assert synth.institution(50_000, seed=1, days=1).staff.num_rows == synth.default_staff(50_000)


def test_every_access_refers_to_existing_customers_and_staff(db):
    assert scalar(db, "select count(*) from log anti join customers using (customer_id)") == 0
    assert scalar(db, "select count(*) from log anti join staff using (staff_id)") == 0
    assert scalar(db, "select count(*) from apps anti join customers using (customer_id)") == 0
    # The log's branch, terminal and IP are the staff member's.
    assert scalar(db, """
        select count(*) from log l join staff s using (staff_id)
        where l.branch_code <> s.branch_code or l.terminal <> s.terminal or l.ip <> s.ip
    """) == 0  # fmt: skip
    assert scalar(db, "select count(distinct event_id) = count(*) from log")


def test_no_access_outside_employment(db):
    outside = """
        select count(*) from {table} t join staff s using (staff_id)
        where t.{column}::date < s.join_date or t.{column}::date > s.leave_date
    """
    assert scalar(db, outside.format(table="log", column="time")) == 0
    assert scalar(db, outside.format(table="apps", column="submitted")) == 0
    assert scalar(db, "select count(*) from log") > 200_000


def test_every_credit_query_has_its_application(db):
    queries, matched = db.execute("""
        select count(*), count(a.application_id) filter (
            where a.customer_id = l.customer_id and a.staff_id = l.staff_id
              and a.submitted <= l.time and a.submitted::date = l.time::date)
        from log l left join apps a on a.application_id = l.business_ref
        where l.action = 'credit_report'
    """).fetchall()[0]  # fmt: skip
    assert queries > 500 and matched == queries
    assert scalar(db, "select count(*) from log where system = 'credit_query'") == queries
    roles = {r for (r,) in db.execute(
        "select distinct role from log join staff using (staff_id) where action = 'credit_report'"
    ).fetchall()}  # fmt: skip
    assert roles == {"credit_officer", "customer_manager"}
    assert scalar(db, "select count(*) = count(distinct application_id) from apps")


def test_business_hours_and_days(db):
    shares = dict(db.execute("""
        select role, avg((hour(time) between 8 and 17 and isodow(time) <= 5)::int)
        from log join staff using (staff_id) group by role
    """).fetchall())  # fmt: skip
    for role in (*OFFICE_ROLES, "teller"):
        assert 0.85 <= shares[role] < 1, role  # some overtime and weekend work
    assert shares["call_centre"] < 0.8  # evenings and weekends in shifts
    weekend = dict(db.execute("""
        select role, avg((isodow(time) >= 6)::int) from log join staff using (staff_id)
        group by role
    """).fetchall())  # fmt: skip
    assert 0.01 < weekend["teller"] < 0.15 and weekend["call_centre"] > weekend["teller"]
    night = scalar(db, "select count(*) from log where hour(time) < 6")
    assert 0 < night < 0.01 * scalar(db, "select count(*) from log")


def test_staff_serve_their_own_branch_and_portfolio(db):
    own = dict(db.execute("""
        select role, avg((c.branch_code = l.branch_code)::int)
        from log l join staff using (staff_id) join customers c using (customer_id)
        where role in ('teller', 'customer_manager', 'credit_officer') group by role
    """).fetchall())  # fmt: skip
    assert all(0.75 <= share < 1 for share in own.values()), own
    portfolio = scalar(db, """
        select avg((p.staff_id is not distinct from l.staff_id)::int)
        from log l join staff s using (staff_id) left join portfolios p using (customer_id)
        where s.role = 'customer_manager'
    """)  # fmt: skip
    assert 0.7 <= portfolio < 1


def test_portfolios(db, world):
    portfolios = db.sql("select * from portfolios").to_arrow_table()
    assert portfolios.num_rows > 0
    assert len(set(column(portfolios, "customer_id"))) == portfolios.num_rows  # one manager each
    assert scalar(db, """
        select count(*) from portfolios p join staff s using (staff_id)
        join customers c using (customer_id)
        where s.role <> 'customer_manager' or c.branch_code <> s.branch_code
    """) == 0  # fmt: skip
    manager = int(np.flatnonzero(world.portfolio_hi > world.portfolio_lo)[0])
    rows = world.portfolio(manager)
    owned = db.execute(
        f"select customer_id from portfolios where staff_id = 'EMP{manager + 1:07d}'"
    ).fetchall()
    assert sorted(column(pa.table({"c": synth.customer_ids(rows)}), "c")) == sorted(
        c for (c,) in owned
    )


def test_month_end_and_campaign_peaks(world, db):
    per_day = dict(db.execute("select time::date, count(*) from log group by 1").fetchall())
    contexts = [ctx for ctx, _ in synth.access_days(world, scale=1e-9)]
    plain = [per_day[c.date] for c in contexts
             if not (c.weekend or c.month_end or c.campaign)]  # fmt: skip
    month_end = [per_day[c.date] for c in contexts if c.month_end and not c.weekend]
    assert month_end and min(month_end) > 1.15 * np.median(plain)
    managers = dict(db.execute("""
        select time::date, count(*) from log join staff using (staff_id)
        where role = 'customer_manager' group by 1
    """).fetchall())  # fmt: skip
    campaign = [managers[c.date] for c in contexts if c.campaign and not c.month_end]
    normal = [managers[c.date] for c in contexts
              if not (c.campaign or c.weekend or c.month_end)]  # fmt: skip
    assert campaign and np.mean(campaign) > 1.5 * np.mean(normal)


def test_expected_events_and_the_events_option(world, activity, tmp_path: Path):
    assert abs(synth.expected_events(world) / activity["log"].num_rows - 1) < 0.05
    summary = synth.write_institution(
        tmp_path, 2000, staff=40, days=10, events=50_000, remarks=False, file_format="parquet"
    )
    rows = summary["files"]["access_log"]["rows"]
    assert abs(rows / 50_000 - 1) < 0.1
    assert pq.read_metadata(tmp_path / "access_log.parquet").num_rows == rows


CREDIT_HARVEST = 7


def test_scenario_hook_plants_labelled_events(world):
    """A scenario adds events to the day's work; only planted events carry its label."""
    from leaktrace.synth import access

    def harvest(ctx: synth.DayContext, work: synth.DayWork) -> synth.DayWork:
        if ctx.index != 5:  # a Monday
            return work
        officer = int(np.flatnonzero((world.staff_role == 2) & ctx.working)[0])
        rng = ctx.rng("harvest")
        planted = synth.make_events(
            staff=np.full(40, officer),
            customer=rng.integers(0, world.customers, 40),
            seconds=np.sort(rng.integers(19 * 3600, 21 * 3600, 40)),
            system=access.CREDIT_QUERY,
            action=access.CREDIT_REPORT,
            label=CREDIT_HARVEST,
        )
        return synth.DayWork(synth.Events.concat([work.events, planted]), work.applications)

    log = synth.access_log(world, scenarios=[harvest], labels=True)
    planted = log.filter(pa.compute.equal(log["label"], CREDIT_HARVEST))
    assert planted.num_rows == 40
    assert set(column(planted, "action")) == {"credit_report"}
    assert column(planted, "business_ref") == [None] * 40
    normal = log.filter(pa.compute.equal(log["label"], 0)).drop_columns(["label", "event_id"])
    plain = synth.access_log(world).drop_columns(["event_id"])
    assert normal.equals(plain)

    def broken(ctx: synth.DayContext, work: synth.DayWork) -> synth.DayWork:
        bad = synth.make_events([0], [world.customers], [0], 0, 0)
        return synth.DayWork(synth.Events.concat([work.events, bad]), work.applications)

    with pytest.raises(ConfigError, match="customer"):
        synth.access_log(world, scenarios=[broken])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: synth.institution(10, staff=3), "staff"),
        (lambda: synth.institution(10, kind="casino"), "kind"),
        (lambda: synth.institution(0), "customer"),
        (lambda: synth.access_log(synth.institution(100, days=1), scale=0), "scale"),
        (lambda: synth.write_institution("x", 10, file_format="xlsx"), "format"),
    ],
)
def test_bad_institution_arguments(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_cli_writes_the_institution(tmp_path: Path):
    from typer.testing import CliRunner

    from leaktrace.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app, ["synth", str(tmp_path), "-n", "800", "--staff", "25", "--days", "7", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 800 and summary["customers"].endswith("customers.csv")
    files = summary["files"]
    assert set(files) == {"customers", "branches", "staff", "portfolios", "applications",
                          "access_log"}  # fmt: skip
    log = pa_csv.read_csv(files["access_log"]["path"])
    apps = pa_csv.read_csv(files["applications"]["path"])
    assert log.num_rows == files["access_log"]["rows"] > 1000
    credit = log.filter(pa.compute.equal(log["action"], "credit_report"))
    assert set(column(credit, "business_ref")) <= set(column(apps, "application_id"))
    staff = pa_csv.read_csv(files["staff"]["path"])
    assert staff.num_rows == 25 and set(column(log, "staff_id")) <= set(column(staff, "staff_id"))
    customers = pa_csv.read_csv(files["customers"]["path"])
    assert set(column(log, "customer_id")) <= set(column(customers, "客户号"))

    plain = runner.invoke(app, ["synth", str(tmp_path / "b"), "-n", "300", "--days", "2", "-q"])
    assert plain.exit_code == 0 and "300 customers" in plain.stdout
    again = runner.invoke(app, ["synth", str(tmp_path / "b"), "-n", "30", "--days", "2", "-q"])
    assert again.exit_code == 2 and "customers.csv exists; synth never overwrites" in again.stderr
    assert pa_csv.read_csv(tmp_path / "b" / "customers.csv").num_rows == 300
    # The library refuses as the command does: a folder of real exports is never written over.
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "staff.csv").write_text("工号,角色\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"staff\.csv exists; synth never overwrites"):
        synth.write_institution(tmp_path / "real", 30, days=1)
    assert (tmp_path / "real" / "staff.csv").read_text(encoding="utf-8") == "工号,角色\n"
    assert not (tmp_path / "real" / "customers.csv").exists()
    for options, message in (
        (["--start", "2025-13-01"], "--start"),
        (["--kind", "casino"], "kind"),
        (["--format", "xlsx"], "format"),
    ):
        bad = runner.invoke(app, ["synth", str(tmp_path / "c"), "-n", "10", *options])
        assert bad.exit_code == 2 and message in bad.stderr and "Traceback" not in bad.output


_RSS_SCRIPT = """
import resource, sys
from leaktrace import synth
synth.write_institution(sys.argv[1], 100_000, staff=2_000, days=int(sys.argv[2]),
                        remarks=False, file_format="parquet", batch_rows=100_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_streaming_writer_memory_does_not_grow_with_the_log(tmp_path: Path):
    """Peak RSS of writing 5 days and 40 days of logs (~0.45M and ~3.6M events) by the same
    staff: memory is bounded by a day's events and a batch, not by the log."""
    import subprocess
    import sys

    peaks = {}
    for days in (5, 40):
        out = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(tmp_path / str(days)), str(days)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        peaks[days] = int(out.stdout.split()[-1])
    rows = pq.read_metadata(tmp_path / "40" / "access_log.parquet").num_rows
    assert rows > 3_000_000
    assert peaks[40] < peaks[5] + 60, peaks  # MiB
