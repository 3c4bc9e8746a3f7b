"""Decoy customers (诱饵客户) for one release: synthetic rows that pass as real among real ones.

A decoy is built from a *donor*: a row of the release itself, drawn with a keyed generator.
It keeps what places it among the real rows — the donor's region code, birth year and gender,
province, city, district and road, branch, hukou, products, amounts (their low digits redrawn),
dates other than the birth date — so region, age, branch and amount distributions are the
template's own. It gets new identifiers: a name by real surname frequency and era-typical given
names (:mod:`leaktrace.synth`'s generator), a resident ID number with the donor's region code,
the decoy's birth date and gender digit and a valid GB 11643 check character, a bank card with
the donor's BIN and a Luhn check digit, a plate of the donor's province and city letter with a
new serial, a new house, building and room number, and a new internal customer number of the
same shape (within the range of the template's numbers when a free one is there, else just
above it — in a dense sequential numbering that is a tell; pass ``is_taken`` so that no decoy
takes a real customer's number). Values are written in the donor's format: masked columns stay
masked the same way
(``1101**********123X``, ``138****5678``, ``张*``), dates in the donor's format, amounts with the
same decimals and type.

Phone numbers come **only** from ``phone_pool``, numbers the institution owns: one pool number may
serve many releases, since the decoy's name and ID differ per release, and a call to a pool
number asking for a decoy's name names the release. With no pool, decoys carry **no phone
number** (an empty cell, like customers who gave none) — or, in a masked phone column, a masked
form (``138****2049``) that is no callable number. E-mail addresses likewise come only from
``email_pool``; without one the cell is empty. No other number or address is ever made up, so
a decoy can never point at a stranger.

Everything is deterministic under (decoy key, release id, ``attempt``): the ledger can
recompute a release's decoys. :class:`Decoys` returns, besides the rows, the full identifiers of
every decoy (to be tokenized and registered, so that any appearance in a leak is proof), and
:func:`positions` says where the decoys go among the real rows.

>>> from leaktrace import synth
>>> template = synth.customers(50, seed=1)
>>> made = make_decoys(bytes(32), "R1", template, 3, ["13800138000"])
>>> made.table.schema.equals(template.schema)
True
>>> sorted(set(made.identifiers["type"].to_pylist()))[:3]
['bank_card', 'customer_id', 'mobile']
"""

from __future__ import annotations

import datetime
import hmac
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace import checksums
from leaktrace.exceptions import ConfigError

_DOMAIN = b"leaktrace decoy v1\x00"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used on plates
_DATE = re.compile(r"^(\d{4})(\D*)(\d{1,2})(\D*)(\d{1,2})(.*)$")
_CODE = re.compile(r"^[A-Za-z]{0,4}[0-9]{4,}$")  # C00000001, 100234: internal customer numbers
# Roles make_decoys understands (the identifier and attribute names of leaktrace.scan), and
# ``code`` for an internal customer number.
# is_taken(kind, values) says, for each value, whether a registered customer holds it.
TakenCheck = Callable[[str, Sequence[str]], Sequence[bool]]
ROLES = ("person_name", "resident_id", "mobile", "email", "bank_card", "plate", "address",
         "gender", "birth_date", "code", "amount")  # fmt: skip


@dataclass(frozen=True)
class Decoys:
    """The decoys of one release.

    ``table`` has exactly the template's columns and types. ``identifiers`` has one row per
    identifier of a decoy — ``decoy`` (row number in ``table``), ``type`` (an identifier type
    name: ``person_name``, ``resident_id``, ``bank_card``, ``plate``, ``mobile``, ``email``, or
    ``customer_id`` for the internal number) and ``value`` (normalized, unmasked) — for the
    ledger to tokenize. A pool phone or e-mail is listed too, but serves many releases: only
    with the decoy's name or ID does it prove one release.
    """

    table: pa.Table
    identifiers: pa.Table
    roles: dict[str, str]


def _rng(key: bytes, release_id: str, purpose: str, attempt: int = 0) -> np.random.Generator:
    message = _DOMAIN + f"{purpose}\x00{release_id}\x00{attempt}".encode()
    seed = int.from_bytes(hmac.digest(key, message, "sha256"), "big")
    return np.random.default_rng(np.random.SeedSequence(seed))


def positions(key: bytes, release_id: str, n_rows: int, count: int) -> np.ndarray:
    """Where ``count`` decoys go in a release of ``n_rows`` real rows: sorted row numbers of the
    output (``n_rows + count`` rows), drawn by the decoy key, so the ledger can recompute them.

    >>> positions(bytes(32), "R1", 10, 2).tolist() == positions(bytes(32), "R1", 10, 2).tolist()
    True
    """
    if n_rows < 0 or count < 0:
        raise ConfigError("Row and decoy counts must be non-negative.")
    rng = _rng(key, release_id, "positions")
    return np.sort(rng.choice(n_rows + count, size=count, replace=False)).astype(np.int64)


def interleave(real: pa.Table, decoys: pa.Table, at: np.ndarray) -> pa.Table:
    """``real`` with the rows of ``decoys`` at output rows ``at`` (from :func:`positions`)."""
    total = real.num_rows + decoys.num_rows
    is_decoy = np.zeros(total, dtype=bool)
    is_decoy[at] = True
    index = np.empty(total, dtype=np.int64)
    index[~is_decoy] = np.arange(real.num_rows)
    index[is_decoy] = real.num_rows + np.arange(decoys.num_rows)
    both = pa.concat_tables([real, decoys.cast(real.schema)])
    return both.take(pa.array(index))


def column_roles(
    template: pa.Table, sample: int = 200, *, detected: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """What each column of ``template`` holds, as far as decoys care (see :data:`ROLES`).
    ``detected`` gives the scanner's type per column when the caller has typed them already."""
    from leaktrace import scan

    roles: dict[str, str] = {}
    head = template.slice(0, sample)
    for name in template.column_names:
        column = head.column(name).combine_chunks()
        if pa.types.is_decimal(column.type) or pa.types.is_floating(column.type):
            roles[name] = "amount"
            continue
        texts = column.cast(pa.string())
        if detected is not None and name in detected:
            kind = detected[name]
        else:
            kind = scan.classify_column(name, texts).detected
        if kind in ROLES:
            roles[name] = kind
            continue
        present = [v for v in texts.to_pylist() if v]
        unique = present and len(set(present)) == len(present)
        if unique and pa.types.is_string(column.type) and all(_CODE.match(v) for v in present):
            roles[name] = "code"
        elif (
            kind
            and (
                "amount" in kind
                or kind in ("credit_limit", "loan_balance", "premium", "income", "deposit")
            )
            and (
                pa.types.is_string(column.type)
                and present
                and all(re.fullmatch(r"[-+]?[¥￥]?[\d,]+(?:\.\d+)?", v) for v in present)
            )
        ):
            roles[name] = "amount"
    return roles


class _Scalars:
    """One draw at a time (a seeded ``random.Random``: numpy's per-call cost is ten times
    higher), with the ``integers(low, high)`` and ``random()`` of a numpy generator."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def integers(self, low: int, high: int) -> int:
        return self._random.randrange(low, high)

    def random(self) -> float:
        return self._random.random()


def _digits(rng: _Scalars, count: int, first_nonzero: bool = False) -> str:
    if count <= 0:
        return ""
    if first_nonzero:
        return str(rng.integers(10 ** (count - 1), 10**count))
    return f"{rng.integers(0, 10**count):0{count}d}"


def _redraw_digits(text: str, rng: _Scalars) -> str:
    """Every run of ASCII digits redrawn with the same length and no leading zero; a room number
    at the end (1502, 1502室) keeps a floor no higher than the donor's and a door of 01-04."""

    def redraw(match: re.Match[str]) -> str:
        run = match.group()
        at_end = match.end() == len(text) or text[match.end() :] == "室"
        if at_end and len(run) in (3, 4):
            floor = int(rng.integers(1, max(int(run[:-2]), 1) + 1))
            return f"{floor}{int(rng.integers(1, 5)):02d}"
        return _digits(rng, len(run), first_nonzero=True)

    return re.sub(r"\d+", redraw, text)


def _mask_like(value: str, donor: str) -> str:
    """``value`` masked where ``donor`` shows ``*`` (same length), else as the donor's shape:
    first character kept, the rest starred (names)."""
    if "*" not in donor:
        return value
    if len(donor) == len(value):
        return "".join("*" if d == "*" else v for v, d in zip(value, donor, strict=True))
    return value[0] + "*" * (len(value) - 1)


def _date_like(day: datetime.date, donor: object) -> object:
    if isinstance(donor, datetime.date) or donor is None:
        return day
    match = _DATE.match(str(donor))
    if not match:
        return day.isoformat()
    _year, sep1, month, sep2, date, rest = match.groups()
    return f"{day.year:04d}{sep1}{day.month:0{len(month)}d}{sep2}{day.day:0{len(date)}d}{rest}"


def _birth(donor_id: str | None, donor_birth: object) -> tuple[int | None, str | None]:
    """The donor's birth year and 6-digit region code, from its ID or birth date."""
    year = region = None
    if donor_id and len(donor_id) == 18 and donor_id[:6].isdigit():
        region = donor_id[:6]
        if donor_id[6:10].isdigit():
            year = int(donor_id[6:10])
    if year is None and donor_birth is not None:
        if isinstance(donor_birth, datetime.date):
            year = donor_birth.year
        else:
            match = _DATE.match(str(donor_birth))
            year = int(match.group(1)) if match else None
    return year, region


def _amount(value: object, rng: _Scalars) -> object:
    """A non-round amount with its last two digits redrawn (last one non-zero); round amounts
    and everything else unchanged; same type and decimals."""
    if value is None:
        return None
    text = str(value)
    if not re.fullmatch(r"[-+]?[¥￥]?[\d,]*\d(?:\.\d+)?", text) or text.endswith("0"):
        return value
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) < 3:
        return value
    chars = list(text)
    chars[digits[-2]] = str(rng.integers(0, 10))
    chars[digits[-1]] = str(rng.integers(1, 10))
    new = "".join(chars)
    if isinstance(value, str):
        return new
    return type(value)(new) if not isinstance(value, float) else float(new)


@dataclass
class CodeRange:
    """What a column of internal codes holds: the codes, the range of their numbers, and
    whether that range is (nearly) full, as sequential customer numbers are."""

    taken: set[str]
    low: int
    high: int
    full: bool

    @classmethod
    def of(cls, template: pa.Table, column: str) -> CodeRange:
        """The codes of ``template[column]``."""
        values = pc.drop_null(template.column(column).cast(pa.string()))
        numbers = pc.replace_substring_regex(values, r"\D", "")
        numbers = numbers.filter(pc.not_equal(numbers, ""))
        # Beyond 18 digits a "code" is no counter; only its range matters, so cut before casting.
        numbers = pc.cast(pc.utf8_slice_codeunits(numbers, 0, 18), pa.int64())
        low, high = (m.as_py() for m in pc.min_max(numbers).values()) if len(numbers) else (0, 0)
        taken = set(values.to_pylist())
        return cls(taken, low, high, len(taken) >= 0.9 * (high - low + 1))

    def include(self, codes: Iterable[str]) -> None:
        """Count ``codes`` (decoys' codes, say) as taken and within the range."""
        for code in codes:
            self.taken.add(code)
            digits = re.sub(r"\D", "", code)
            if digits:
                self.high = max(self.high, int(digits[:18]))


def _code_drawer(donor: str, known: CodeRange, rng: _Scalars) -> Callable[[int], str] | None:
    """Draws of a code shaped like ``donor``, attempt by attempt: its number within the column's
    range (numbers far outside it would stand out) for the first ten, then above the range — at
    once when the range is full."""
    match = re.match(r"^(\D*)(\d+)$", donor)
    if match is None:
        return None
    prefix, digits = match.groups()
    low, high = known.low, known.high
    inside = 0 if known.full else 10

    def draw(attempt: int) -> str:
        if attempt < inside:
            number = int(rng.integers(low, high + 1))
        else:
            # Just above the range; reach further each time the register holds what is there
            # (a batch of a larger, densely numbered table lies below other customers' numbers).
            reach = max(1, (high - low) // 20 + 1) << min(attempt - inside, 40)
            number = high + 1 + int(rng.integers(0, reach))
        return prefix + f"{number:0{len(digits)}d}"

    return draw


def _free(
    kind: str,
    draw: Callable[[int, int], str],
    decoys: Sequence[int],
    avoid: set[str],
    is_taken: TakenCheck | None,
    rounds: int = 60,
) -> dict[int, str]:
    """For each decoy of ``decoys`` a value ``draw(decoy, attempt)`` that neither ``avoid`` (the
    template's values, grown with each value chosen) nor the register holds (``is_taken``, asked
    once per round for all of the round's draws); after ``rounds`` the last draw stays."""
    chosen: dict[int, str] = {}
    todo = list(decoys)
    drawn: dict[int, str] = {}
    for attempt in range(rounds):
        if not todo:
            break
        drawn = {i: draw(i, attempt) for i in todo}
        fresh = [i for i in todo if drawn[i] not in avoid]
        flags = list(is_taken(kind, [drawn[i] for i in fresh])) if is_taken and fresh else []
        flags += [False] * (len(fresh) - len(flags))
        for i, taken in zip(fresh, flags, strict=True):
            if not taken and drawn[i] not in avoid:  # two decoys of a round may draw one value
                chosen[i] = drawn[i]
                avoid.add(drawn[i])
        todo = [i for i in todo if i not in chosen]
    chosen.update((i, drawn[i]) for i in todo)
    return chosen


def _strings(template: pa.Table, column: str, transform: Callable[[pa.Array], pa.Array]) -> list:
    """The non-null values of a column as strings, transformed column-wise."""
    return transform(pc.drop_null(template.column(column)).cast(pa.string())).to_pylist()


def _card_drawer(rows: list[dict], column: str, rng: _Scalars) -> Callable[[int, int], str]:
    """Draws of a card number with the donor's BIN and length and a Luhn check digit."""

    def draw(i: int, _attempt: int) -> str:
        value = str(rows[i][column])
        digits = re.sub(r"\D", "", value)
        length = len(value) if "*" in value else len(digits)
        payload = (digits[:6] if len(digits) >= 6 else "622202") + _digits(rng, max(length, 16) - 7)
        return payload + checksums.luhn_check_digit(payload)

    return draw


def _pick_pool(pool: Sequence[str] | None, rng: np.random.Generator, count: int) -> list[str]:
    if not pool:
        return []
    unique = sorted(set(pool))
    return [unique[i] for i in rng.integers(0, len(unique), count)]


def make_decoys(
    key: bytes,
    release_id: str,
    template: pa.Table,
    count: int,
    phone_pool: Sequence[str] | None = None,
    *,
    email_pool: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
    attempt: int = 0,
    is_taken: TakenCheck | None = None,
    codes: Mapping[str, CodeRange] | None = None,
) -> Decoys:
    """``count`` decoy customers for release ``release_id``, shaped like the rows of ``template``
    (the release's own rows, or a sample of them).

    ``key`` is the decoy key (``Keyring.key("decoy")``). ``roles`` overrides
    :func:`column_roles` (column → role). ``attempt`` draws a fresh set for the same release,
    for when the ledger finds that a decoy's identifier collides with a registered one.
    ``codes`` gives the range of each code column (else taken from ``template``), for decoys
    made batch by batch from one large table.
    """
    from leaktrace.synth.customer import _names

    if count < 0:
        raise ConfigError("The decoy count must be non-negative.")
    if count and template.num_rows == 0:
        raise ConfigError("Decoys need at least one real row to take their shape from.")
    roles = dict(column_roles(template) if roles is None else roles)
    unknown = sorted(set(roles.values()) - set(ROLES))
    if unknown:
        raise ConfigError(f"Unknown decoy role {unknown[0]!r}; choose from {', '.join(ROLES)}.")
    rng = _rng(key, release_id, "decoys", attempt)
    donors = rng.integers(0, template.num_rows, count) if count else np.zeros(0, np.int64)
    draw = _Scalars(int(rng.integers(0, 2**63)))
    base = template.take(pa.array(donors, pa.int64()))
    rows = base.to_pylist()
    by_role: dict[str, list[str]] = {}
    for column, role in roles.items():
        by_role.setdefault(role, []).append(column)

    def first(role: str, row: dict) -> object:
        columns = by_role.get(role, [])
        return row[columns[0]] if columns else None

    # Who the decoys are: the donor's gender, birth year and ID region; a new birth day.
    genders, years, regions, births = [], [], [], []
    for row in rows:
        donor_id = first("resident_id", row)
        donor_id = str(donor_id).upper() if donor_id else None
        year, region = _birth(donor_id, first("birth_date", row))
        gender = first("gender", row)
        if gender in ("男", "M", "m", "male"):
            male = True
        elif gender in ("女", "F", "f", "female"):
            male = False
        elif donor_id and donor_id[16:17].isdigit():
            male = int(donor_id[16]) % 2 == 1
        else:
            male = draw.random() < 0.5
        year = year or draw.integers(1950, 2003)
        start = datetime.date(year, 1, 1)
        day = start + datetime.timedelta(days=draw.integers(0, 365))
        genders.append(male)
        years.append(year)
        regions.append(region)
        births.append(day)
    male = np.array(genders, dtype=bool)
    names = _names(rng, male, np.array(years, dtype=np.int64)).names.to_pylist() if count else []
    taken_ids = set()
    for column in by_role.get("resident_id", []):
        taken_ids |= set(_strings(template, column, pc.utf8_upper))

    def new_id(i: int, _attempt: int) -> str:
        sequence = draw.integers(0, 500) * 2 + int(male[i])
        first17 = f"{regions[i] or '110105'}{births[i]:%Y%m%d}{sequence:03d}"
        return first17 + checksums.gb11643_check_char(first17)

    # New identifiers are drawn for all decoys at once, so the register is asked once a round.
    ids = _free("resident_id", new_id, range(count), taken_ids, is_taken)
    new_values: dict[str, dict[int, str]] = {}
    for column in by_role.get("bank_card", []):
        owned = [i for i, row in enumerate(rows) if row[column]]
        cards = set(_strings(template, column, lambda v: pc.replace_substring_regex(v, r"\D", "")))
        new_values[column] = _free(
            "bank_card", _card_drawer(rows, column, draw), owned, cards, is_taken
        )
    for column in by_role.get("code", []):
        known = CodeRange.of(template, column) if codes is None else codes[column]
        drawers = {
            i: _code_drawer(str(row[column]), known, draw)
            for i, row in enumerate(rows)
            if row[column]
        }
        owned = [i for i, d in drawers.items() if d is not None]
        new_values[column] = _free(
            "customer_id", lambda i, attempt, d=drawers: d[i](attempt), owned, known.taken, is_taken
        )
    phones = _pick_pool(phone_pool, rng, count)
    emails = _pick_pool(email_pool, rng, count)
    identifiers: list[tuple[int, str, str]] = []
    for i, row in enumerate(rows):
        donor = dict(row)
        ident = ids[i]
        identifiers.append((i, "resident_id", ident))
        identifiers.append((i, "person_name", names[i]))
        for column, role in roles.items():
            value = donor[column]
            if role == "person_name":
                row[column] = _mask_like(names[i], str(value)) if value else names[i]
            elif role == "resident_id":
                row[column] = _mask_like(ident, str(value)) if value else ident
            elif role == "birth_date":
                row[column] = _date_like(births[i], value)
            elif role == "mobile":
                if phones:
                    row[column] = _mask_like(phones[i], str(value)) if value else phones[i]
                elif value and "*" in str(value):
                    row[column] = _redraw_digits_after_mask(str(value), draw)
                else:
                    row[column] = None
            elif role == "email":
                row[column] = emails[i] if emails else None
            elif role == "bank_card" and value:
                card = new_values[column][i]
                row[column] = _mask_like(card, str(value))
                identifiers.append((i, "bank_card", card))
            elif role == "plate" and value:
                text = str(value)
                tail = "".join(
                    str(draw.integers(0, 10)) if c.isdigit()
                    else _PLATE_LETTERS[draw.integers(0, len(_PLATE_LETTERS))]
                    if c.isascii() and c.isalpha() and c not in "DF" else c
                    for c in text[2:]
                )  # fmt: skip
                row[column] = text[:2] + tail
                identifiers.append((i, "plate", re.sub(r"[^0-9A-Z\u4e00-\u9fff]", "", row[column])))
            elif role == "address" and value:
                row[column] = _redraw_digits(str(value), draw)
            elif role == "code" and i in new_values[column]:
                row[column] = new_values[column][i]
                identifiers.append((i, "customer_id", row[column]))
            elif role == "amount":
                row[column] = _amount(value, draw)
        if phones:
            identifiers.append((i, "mobile", phones[i]))
        if emails:
            identifiers.append((i, "email", emails[i].lower()))
    table = pa.Table.from_pylist(rows, schema=template.schema) if count else template.slice(0, 0)
    register = pa.table(
        {
            "decoy": pa.array([d for d, _, _ in identifiers], pa.int32()),
            "type": pa.array([t for _, t, _ in identifiers], pa.string()),
            "value": pa.array([v for _, _, v in identifiers], pa.string()),
        }
    )
    return Decoys(table=table, identifiers=register, roles=roles)


def _redraw_digits_after_mask(masked: str, rng: _Scalars) -> str:
    """A masked phone (``138****5678``) with its visible tail redrawn: no callable number."""
    cut = masked.rfind("*") + 1
    return masked[:cut] + "".join(
        str(rng.integers(0, 10)) if c.isdigit() else c for c in masked[cut:]
    )


def count_for(n_rows: int, rate: float = 0.03) -> int:
    """The default number of decoys for ``n_rows`` real rows: ``rate`` of them, at least one."""
    if n_rows <= 0:
        return 0
    return max(1, round(n_rows * rate))


__all__ = ["ROLES", "Decoys", "column_roles", "count_for", "interleave", "make_decoys", "positions"]
