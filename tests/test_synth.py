"""Tests of the synthetic institution (leaktrace.synth).

Generated values are checked with libraries that know nothing of the generator: python-stdnum
(GB 11643 check, birth date, region table, Luhn), phonenumbers (CN mobile ranges), a GA 36 plate
pattern and province abbreviations written out here, OpenCC for traditional characters. The
identifier modules of leaktrace are run over the data too, since they must accept it.
"""

from __future__ import annotations

import collections
import datetime
import math
import re
import unicodedata
from pathlib import Path

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
