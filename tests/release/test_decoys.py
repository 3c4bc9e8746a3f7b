"""Decoy customers: checksums, pool phones only, unique per release, the template's shape, and
a classifier that cannot tell them from real rows (issue 5, acceptance 3)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from leaktrace import keys, synth
from leaktrace.checksums import gb11643_check_char, luhn_is_valid
from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import plate, resident_id
from leaktrace.release import decoys

DECOY_KEY = keys.Keyring(bytes(range(32))).key("decoy")


@pytest.fixture(scope="module")
def bank() -> pa.Table:
    return synth.customers(5000, seed=21)


@pytest.fixture(scope="module")
def pool() -> list[str]:
    # Numbers "the institution owns": spread over the operators' prefixes like customers' are.
    return synth.customers(400, seed=777, columns=["mobile"])["mobile"].to_pylist()


@pytest.fixture(scope="module")
def roles(bank: pa.Table) -> dict[str, str]:
    return decoys.column_roles(bank)


@pytest.fixture(scope="module")
def made(bank: pa.Table, pool: list[str], roles: dict[str, str]) -> decoys.Decoys:
    return decoys.make_decoys(DECOY_KEY, "R-1", bank, 150, pool, roles=roles)


def test_roles(roles: dict[str, str]) -> None:
    assert roles["customer_id"] == "code"
    assert roles["id_number"] == "resident_id"
    assert roles["mobile"] == "mobile"
    assert roles["card_number"] == "bank_card"
    assert roles["name"] == "person_name"


def test_same_columns_types_and_deterministic(
    bank: pa.Table, pool: list[str], roles: dict[str, str], made: decoys.Decoys
) -> None:
    assert made.table.schema.equals(bank.schema)
    assert made.table.num_rows == 150
    again = decoys.make_decoys(DECOY_KEY, "R-1", bank, 150, pool, roles=roles)
    assert again.table.equals(made.table) and again.identifiers.equals(made.identifiers)


def test_checksums_and_consistency(made: decoys.Decoys) -> None:
    for row in made.table.to_pylist():
        number = row["id_number"]
        assert resident_id.is_valid(number)
        assert gb11643_check_char(number[:17]) == number[17]
        assert number[6:14] == row["birth_date"].strftime("%Y%m%d")
        assert int(number[16]) % 2 == (row["gender"] == "男")
        assert luhn_is_valid(row["card_number"])
        if row["plate"] is not None:
            assert plate.is_valid(row["plate"])
            assert row["plate"][:2] in {p[:2] for p in [row["plate"]]}


def test_phones_only_from_pool(bank: pa.Table, pool: list[str], made: decoys.Decoys) -> None:
    assert set(made.table["mobile"].to_pylist()) <= set(pool)
    without = decoys.make_decoys(DECOY_KEY, "R-1", bank, 20, None)
    assert without.table["mobile"].null_count == 20
    assert "mobile" not in without.identifiers["type"].to_pylist()


def test_new_identifiers_unique_per_release(
    bank: pa.Table, pool: list[str], roles: dict[str, str], made: decoys.Decoys
) -> None:
    real_ids = set(bank["id_number"].to_pylist())
    assert not set(made.table["id_number"].to_pylist()) & real_ids
    assert not set(made.table["customer_id"].to_pylist()) & set(bank["customer_id"].to_pylist())
    assert not set(made.table["card_number"].to_pylist()) & set(bank["card_number"].to_pylist())
    other = decoys.make_decoys(DECOY_KEY, "R-2", bank, 150, pool, roles=roles)
    ours = set(zip(made.table["name"].to_pylist(), made.table["id_number"].to_pylist(),
                   strict=True))  # fmt: skip
    theirs = set(zip(other.table["name"].to_pylist(), other.table["id_number"].to_pylist(),
                     strict=True))  # fmt: skip
    assert not ours & theirs
    assert len({row for row in ours}) == 150


def test_register_lists_every_identifier(made: decoys.Decoys) -> None:
    register = made.identifiers.to_pylist()
    kinds = {(r["decoy"], r["type"]) for r in register}
    for i in range(made.table.num_rows):
        assert {(i, "resident_id"), (i, "person_name"), (i, "bank_card"), (i, "mobile"),
                (i, "customer_id")} <= kinds  # fmt: skip
    ids = {r["value"] for r in register if r["type"] == "resident_id"}
    assert ids == set(made.table["id_number"].to_pylist())


def test_masked_and_text_templates_keep_their_format(bank: pa.Table, pool: list[str]) -> None:
    text = bank.cast(pa.schema([pa.field(f.name, pa.string()) for f in bank.schema]))
    masked_ids = [v[:4] + "*" * 10 + v[-4:] for v in text["id_number"].to_pylist()]
    masked_phones = [v[:3] + "****" + v[-4:] for v in text["mobile"].to_pylist()]
    dates = [v.replace("-", "/") for v in text["birth_date"].to_pylist()]
    text = text.set_column(4, "id_number", pa.array(masked_ids))
    text = text.set_column(5, "mobile", pa.array(masked_phones))
    text = text.set_column(3, "birth_date", pa.array(dates))
    made = decoys.make_decoys(DECOY_KEY, "R-3", text, 40, pool)
    assert made.table.schema.equals(text.schema)
    for row in made.table.to_pylist():
        assert row["id_number"][4:14] == "*" * 10 and len(row["id_number"]) == 18
        assert row["mobile"][3:7] == "****"
        assert row["birth_date"].count("/") == 2
        assert row["loan_balance"] is None or row["loan_balance"].count(".") == 1
    full = [r["value"] for r in made.identifiers.to_pylist() if r["type"] == "resident_id"]
    assert all(resident_id.is_valid(v) for v in full)
    assert {r["value"] for r in made.identifiers.to_pylist() if r["type"] == "mobile"} <= set(pool)
    # With no pool, a masked phone column gets masked forms, never a whole number.
    no_pool = decoys.make_decoys(DECOY_KEY, "R-3", text, 10, None)
    assert all("****" in v for v in no_pool.table["mobile"].to_pylist())


def test_positions_and_interleave(bank: pa.Table, made: decoys.Decoys) -> None:
    at = decoys.positions(DECOY_KEY, "R-1", bank.num_rows, made.table.num_rows)
    assert np.array_equal(at, decoys.positions(DECOY_KEY, "R-1", bank.num_rows, 150))
    assert not np.array_equal(at, decoys.positions(DECOY_KEY, "R-2", bank.num_rows, 150))
    assert len(set(at.tolist())) == 150 and at.max() < bank.num_rows + 150
    merged = decoys.interleave(bank, made.table, at)
    assert merged.num_rows == bank.num_rows + 150
    assert merged.take(pa.array(at)).equals(made.table)
    assert decoys.count_for(5000) == 150


def test_is_taken_redraws(bank: pa.Table, pool: list[str], roles: dict[str, str]) -> None:
    first = decoys.make_decoys(DECOY_KEY, "R-9", bank, 10, pool, roles=roles)
    claimed = set(first.identifiers["value"].to_pylist())
    asked: list[str] = []

    def is_taken(kind: str, values: list[str]) -> list[bool]:
        asked.append(kind)
        return [value in claimed for value in values]

    second = decoys.make_decoys(DECOY_KEY, "R-9", bank, 10, pool, roles=roles, is_taken=is_taken)
    assert {"resident_id", "bank_card", "customer_id"} <= set(asked)
    # What the export reads ahead for these roles is what the decoys ask, no more.
    assert decoys.asked_kinds(roles) == set(asked)
    assert decoys.asked_kinds({"n": "person_name"}) == {"resident_id"}
    for kind in ("resident_id", "bank_card"):
        values = [r["value"] for r in second.identifiers.to_pylist() if r["type"] == kind]
        assert not set(values) & claimed


def test_bad_input() -> None:
    with pytest.raises(ConfigError):
        decoys.make_decoys(DECOY_KEY, "R", synth.customers(0, seed=1), 3, None)
    with pytest.raises(ConfigError, match="Unknown decoy role"):
        decoys.make_decoys(DECOY_KEY, "R", synth.customers(3, seed=1), 1, None,
                           roles={"name": "nickname"})  # fmt: skip


def _features(table: pa.Table) -> np.ndarray:
    shares = synth.surname_shares()
    rows = table.to_pylist()

    def number(value: object) -> float:
        return float(value) if value is not None else np.nan

    return np.array(
        [
            [
                int(r["id_number"][:2]),
                int(r["id_number"][:6]),
                int(r["id_number"][6:10]),
                shares.get(r["name"][0], 0.0),
                len(r["name"]),
                int(r["mobile"][:3]),
                number(r["loan_balance"]),
                number(r["credit_limit"]),
                int(r["branch_code"]),
                r["birth_date"].year,
                r["open_date"].toordinal(),
            ]
            for r in rows
        ]
    )


def test_classifier_cannot_tell_decoys(bank: pa.Table, pool: list[str], roles: dict[str, str]):
    """Issue 5, acceptance 3: cross-validated AUC of a seeded gradient-boosting classifier on
    per-column features (ID region and birth year, surname frequency, phone prefix, amounts,
    branch) is at most 0.6. The internal customer number is left out: a fully used sequential
    numbering leaves decoys only numbers above it (see the decoys module)."""
    made = decoys.make_decoys(DECOY_KEY, "R-AUC", bank, 1000, pool, roles=roles)
    features = np.vstack([_features(bank), _features(made.table)])
    labels = np.r_[np.zeros(bank.num_rows), np.ones(made.table.num_rows)]
    model = HistGradientBoostingClassifier(random_state=0, max_iter=100)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    auc = cross_val_score(model, features, labels, cv=folds, scoring="roc_auc").mean()
    assert auc <= 0.6, auc


@pytest.mark.parametrize(
    "values",
    [
        ["11010519491231002X", "110105194912310021", None, ""],
        ["11010519491231002x", "110105194912310021"],
        ["ＡＢｃ", "123"],  # full-width lower case: non-ASCII bytes
        ["ÉCOLE", "straße"],
        ["", None],
        [],
    ],
)
def test_upper_matches_arrows_own_check(values: list[str | None]) -> None:
    """The byte scan in front of ``utf8_is_lower`` changes no answer (the plain check is the
    oracle), also on slices of a longer column."""

    def oracle(array: pa.Array) -> pa.Array:
        lower = pc.any(pc.utf8_is_lower(array)).as_py()
        return pc.utf8_upper(array) if lower else array

    array = pa.array(values, pa.string())
    assert decoys._upper(array).equals(oracle(array))
    longer = pa.array(["aaa", *values, "zzz"], pa.string())
    window = longer.slice(1, len(values))
    assert decoys._upper(window).equals(oracle(window))
    upper = pa.array(["ABC", *values], pa.string()).slice(0, 1)
    assert decoys._upper(upper).equals(oracle(upper))


def _refuse_all(is_taken, kinds, candidates) -> None:
    """The plain oracle of ``decoys._refuse_held``: every fresh candidate asked at once."""
    asks, where = [], []
    for kind, found in zip(kinds, candidates, strict=True):
        if found is not None and found[1].any():
            at = np.nonzero(found[1])
            asks.append((kind, found[0][at].tolist()))
            where.append((found[1], at))
    for (free, at), held in zip(where, decoys._ask(is_taken, asks), strict=True):
        free[at[0][held], at[1][held]] = False


@pytest.mark.parametrize("rounds", [1, 3, 12])
def test_free_asks_attempts_in_groups_and_picks_as_asking_all(monkeypatch, rounds) -> None:
    """Asked attempt group by attempt group, the decoys get the values they get when every
    candidate is asked at once (collisions between decoys, the template's values, the last
    round's fallback), with fewer values asked."""
    held = {f"C{n}" for n in range(0, 90, 3)} | {f"R{n}" for n in range(0, 40, 2)}

    def run() -> tuple[list[list[str]], int]:
        rng = np.random.default_rng(7)

        def draw(prefix: str, top: int):
            return lambda rows, _attempt: pa.array(
                [f"{prefix}{n}" for n in rng.integers(0, top, rows.size)], pa.string()
            )

        wants = [
            decoys._Wanted("customer_id", draw("C", 90), np.arange(40), pa.array(["C1"]), tries=4),
            decoys._Wanted("resident_id", draw("R", 40), np.arange(12), pa.array(["R3", "R5"])),
        ]
        asked: list[str] = []

        def is_taken(_kind: str, values: list[str]) -> list[bool]:
            asked.extend(values)
            return [v in held for v in values]

        decoys._free(wants, is_taken, rounds=rounds)
        return [list(w.chosen) for w in wants], len(asked)

    grouped, asked_grouped = run()
    monkeypatch.setattr(decoys, "_refuse_held", _refuse_all)
    together, asked_together = run()
    assert grouped == together
    assert asked_grouped < asked_together


def test_dates_written_as_the_donors_write_them() -> None:
    from leaktrace.release import decoy_columns

    days = np.array(["0001-02-03", "0999-12-31", "1990-01-05", "2002-10-20", "9999-09-09"],
                    "datetime64[D]")  # fmt: skip
    donors = [
        ("1991-12-24", ["0001-02-03", "0999-12-31", "1990-01-05", "2002-10-20", "9999-09-09"]),
        ("1991/1/4", ["0001/2/3", "0999/12/31", "1990/1/5", "2002/10/20", "9999/9/9"]),
        ("1991年01月4日", ["0001年02月3日", "0999年12月31日", "1990年01月5日", "2002年10月20日",
                          "9999年09月9日"]),
        ("19911224", ["00010203", "09991231", "19900105", "20021020", "99990909"]),
        ("unknown", ["0001-02-03", "0999-12-31", "1990-01-05", "2002-10-20", "9999-09-09"]),
    ]  # fmt: skip
    for donor, expected in donors:
        written = decoy_columns.date_like(days, pa.array([donor] * days.size))
        assert written.to_pylist() == expected, donor
    dated = decoy_columns.date_like(days, pa.array(days[:1].repeat(days.size)))
    assert dated.type == pa.date32() and dated.to_pylist()[2].isoformat() == "1990-01-05"
