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

import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leaktrace.exceptions import ConfigError
from leaktrace.identifiers import _vector
from leaktrace.release import decoy_columns as columns

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
        column = _vector.flat(head.column(name))
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


@dataclass
class CodeRange:
    """What a column of internal codes holds: the codes, the range of their numbers, and
    whether that range is (nearly) full, as sequential customer numbers are."""

    codes: pa.Array  # the codes taken (strings)
    low: int
    high: int
    full: bool

    @classmethod
    def of(cls, template: pa.Table, column: str) -> CodeRange:
        """The codes of ``template[column]``."""
        values = pc.drop_null(_texts(template.column(column)))
        low, high = _number_range(values)
        taken = pc.count_distinct(values).as_py()
        return cls(values, low or 0, high or 0, taken >= 0.9 * ((high or 0) - (low or 0) + 1))

    def include(self, codes: pa.Array | Iterable[str]) -> None:
        """Count ``codes`` (decoys' codes, say) as taken and within the range."""
        codes = codes if isinstance(codes, pa.Array) else pa.array(list(codes), pa.string())
        self.codes = pa.concat_arrays([self.codes, codes.cast(pa.string())])
        high = _number_range(codes)[1]
        if high is not None:
            self.high = max(self.high, high)


def _number_range(codes: pa.Array) -> tuple[int | None, int | None]:
    """The lowest and highest number of codes (their digits; None without any)."""
    numbers = pc.replace_substring_regex(codes, r"\D", "")
    numbers = numbers.filter(pc.not_equal(numbers, ""))
    # Beyond 18 digits a "code" is no counter; only its range matters, so cut before casting.
    numbers = pc.cast(pc.utf8_slice_codeunits(numbers, 0, 18), pa.int64())
    if not len(numbers):
        return None, None
    low, high = pc.min_max(numbers).values()
    return low.as_py(), high.as_py()


def _texts(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    values = _vector.flat(values)
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _upper(values: pa.Array) -> pa.Array:
    """Upper case, computed only when some value has a lower-case letter (the x of an ID)."""
    if _may_have_lower(values) and pc.any(pc.utf8_is_lower(values)).as_py():
        return pc.utf8_upper(values)
    return values


def _may_have_lower(values: pa.Array) -> bool:
    """False when no byte of the values is a lower-case ASCII letter or non-ASCII: then none
    is lower case. A byte scan of the column's text takes a tenth of Arrow's per-value
    ``utf8_is_lower`` (4 against 45 ms on the 125,000 IDs of a batch, where every export
    batch asks it)."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return bool(len(values))
    offsets, data = _vector.raw_buffers(values)
    text = data[offsets[0] : offsets[-1]]
    return bool(((text >= ord("a")) & (text <= ord("z"))).any() or (text >= 0x80).any())


def _flags(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow column as NumPy (null → False)."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _present(values: pa.Array) -> np.ndarray:
    """Which values are neither null nor empty."""
    return _flags(pc.greater(pc.utf8_length(_texts(values)), 0))


@dataclass
class _Wanted:
    """New values of one kind for some decoys: ``draw(rows, attempt)`` draws one for each of
    ``rows`` (indexes into ``rows``' owners); none may be in ``avoid`` (the template's)."""

    kind: str
    draw: Callable[[np.ndarray, int], pa.Array]
    rows: np.ndarray
    avoid: pa.Array
    tries: int = 1  # candidates per decoy in the first round
    chosen: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))


def asked_kinds(roles: Mapping[str, str]) -> set[str]:
    """The kinds of value :func:`make_decoys` asks the register about, for a template of these
    column roles (:func:`column_roles`): new resident IDs always, bank cards and customer
    numbers (``customer_id``) where a column holds them."""
    kinds = {"resident_id"}
    for role in roles.values():
        if role == "bank_card":
            kinds.add("bank_card")
        elif role == "code":
            kinds.add("customer_id")
    return kinds


def _ask(is_taken: TakenCheck, asks: list[tuple[str, list[str]]]) -> list[np.ndarray]:
    """Which asked values the register holds: in one question when the check takes many."""
    many = getattr(is_taken, "many", None)
    answers = many(asks) if many is not None else [is_taken(kind, v) for kind, v in asks]
    return [np.asarray(list(answer), dtype=bool) for answer in answers]


def _free(wants: list[_Wanted], is_taken: TakenCheck | None, rounds: int = 12) -> None:
    """For each decoy of each want a value that neither the want's ``avoid``, another decoy,
    nor the register holds (``want.chosen``; after ``rounds`` the last draw stays).

    Each decoy still without a value draws ``want.tries`` candidates in the first round, four
    times as many (up to 16) in each next one (attempts in order, the first free one wins): a
    dense numbering may need several attempts before its draws reach numbers nobody holds. The
    register is asked for every want together, a few questions a round (:func:`_refuse_held`).
    """
    todo = []
    kept: list[list[pa.Array]] = []
    for want in wants:
        want.chosen = np.empty(want.rows.size, dtype=object)
        want.avoid = want.avoid.cast(pa.string())
        todo.append(np.arange(want.rows.size))
        kept.append([pa.array([], pa.string())])
    attempts = [0] * len(wants)
    for round_ in range(rounds):
        candidates = []
        for i, (want, left, earlier) in enumerate(zip(wants, todo, kept, strict=True)):
            if not left.size:
                candidates.append(None)
                continue
            tries = min(want.tries << (2 * round_), 16)
            drawn = [want.draw(want.rows[left], attempts[i] + t) for t in range(tries)]
            attempts[i] += tries
            flat = pa.concat_arrays(drawn)
            # Hash the few drawn values and probe the template's many, not the other way round.
            hits = want.avoid.filter(pc.is_in(want.avoid, value_set=flat))
            fresh = ~_flags(pc.is_in(flat, value_set=pa.concat_arrays([hits, *earlier])))
            values = flat.to_numpy(zero_copy_only=False).astype(object)
            candidates.append((values.reshape(tries, left.size), fresh.reshape(tries, left.size)))
        if all(c is None for c in candidates):
            break
        if is_taken is not None:
            _refuse_held(is_taken, [w.kind for w in wants], candidates)
        last = round_ == rounds - 1
        for i, (want, left, found) in enumerate(zip(wants, todo, candidates, strict=True)):
            if found is None:
                continue
            values, ok = found
            tries = ok.shape[0]
            pick = np.argmax(ok, axis=0)  # the first free attempt of each decoy
            has = ok.any(axis=0)
            picked = values[pick, np.arange(left.size)]
            # Two decoys may pick one value: the first keeps it.
            _, first = np.unique(picked.astype(str), return_index=True)
            once = np.zeros(left.size, dtype=bool)
            once[first] = True
            won = (has & once) | last
            if last:  # out of rounds: the last draw stays
                picked = np.where(has & once, picked, values[-1])
            want.chosen[left[won]] = picked[won]
            kept[i].append(pa.array(picked[won].tolist(), pa.string()))
            todo[i] = left[~won]


def _refuse_held(
    is_taken: TakenCheck,
    kinds: list[str],
    candidates: list[tuple[np.ndarray, np.ndarray] | None],
) -> None:
    """Clear the ``free`` flag (attempt × decoy, per want of ``kinds``) of every candidate the
    register holds that could be picked, asking attempts in groups of 1, 1, 2, 4, 8: a
    decoy's later attempts are not asked once one of its earlier ones is free, and are
    cleared instead (the first free attempt wins; a candidate is an HMAC to ask, most decoys
    need only their first few, and a few groups keep the questions few)."""
    open_ = [None if c is None else np.ones(c[1].shape[1], dtype=bool) for c in candidates]
    depth = max(c[1].shape[0] for c in candidates if c is not None)
    start = 0
    while start < depth:
        stop = max(start * 2, start + 1)
        asks, asked = [], []
        for i, found in enumerate(candidates):
            if found is None or start >= found[1].shape[0]:
                continue
            values, free = found
            group = free[start:stop]  # a view: cleared in place
            group &= open_[i]
            at = np.nonzero(group)
            if at[0].size:
                asks.append((kinds[i], values[start:stop][at].tolist()))
                asked.append((group, at))
        for (group, at), held in zip(asked, _ask(is_taken, asks) if asks else [], strict=True):
            group[at[0][held], at[1][held]] = False
        for i, found in enumerate(candidates):
            if found is not None and start < found[1].shape[0]:
                open_[i] &= ~found[1][start:stop].any(axis=0)
        start = stop


def _pick_pool(pool: Sequence[str] | None, rng: np.random.Generator, count: int) -> pa.Array | None:
    if not pool:
        return None
    unique = pa.array(sorted(set(pool)), pa.string())
    return unique.take(pa.array(rng.integers(0, len(unique), count)))


def _who(
    rng: np.random.Generator, base: pa.Table, by_role: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decoys' gender (male?), 6-digit ID region (-1: none) and a new birth day: the
    donor's gender, birth year and region, from its ID number, birth date and gender column."""
    count = base.num_rows
    region = np.full(count, -1, dtype=np.int64)
    year = np.zeros(count, dtype=np.int64)
    parity = np.full(count, -1, dtype=np.int64)
    if by_role.get("resident_id"):
        ids = pc.utf8_upper(_texts(base.column(by_role["resident_id"][0])))
        full = _flags(pc.equal(pc.utf8_length(ids), 18))
        head = _flags(pc.match_substring_regex(ids, r"^\d{6}")) & full
        region = np.where(head, _numbers(pc.utf8_slice_codeunits(ids, 0, 6)), -1)
        dated = _flags(pc.match_substring_regex(ids, r"^.{6}\d{4}")) & head
        year = np.where(dated, _numbers(pc.utf8_slice_codeunits(ids, 6, 10)), 0)
        gender_digit = _flags(pc.match_substring_regex(ids, r"^.{16}\d"))
        parity = np.where(gender_digit, _numbers(pc.utf8_slice_codeunits(ids, 16, 17)) % 2, -1)
    if by_role.get("birth_date"):
        births = _vector.flat(base.column(by_role["birth_date"][0]))
        if pa.types.is_date(births.type) or pa.types.is_timestamp(births.type):
            stated = pc.year(births)
        else:
            stated = pc.cast(
                pc.extract_regex(_texts(births), r"^(?P<y>\d{4})").field("y"), pa.int64()
            )
        stated = stated.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        year = np.where(year > 0, year, stated)
    coin = rng.random(count) < 0.5
    male = np.where(parity >= 0, parity == 1, coin)
    if by_role.get("gender"):
        said = _texts(base.column(by_role["gender"][0]))
        is_male = _flags(pc.is_in(said, value_set=pa.array(["男", "M", "m", "male"])))
        is_female = _flags(pc.is_in(said, value_set=pa.array(["女", "F", "f", "female"])))
        male = np.where(is_male, True, np.where(is_female, False, male))
    year = np.where(year > 0, year, rng.integers(1950, 2003, count))
    starts = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days = starts + rng.integers(0, 365, count).astype("timedelta64[D]")
    return male.astype(bool), region, days


def _numbers(values: pa.Array) -> np.ndarray:
    """Digit strings as int64 (0 where null or not digits)."""
    digits = pc.if_else(pc.match_substring_regex(values, r"^\d+$"), values, "0")
    return pc.cast(digits.fill_null("0"), pa.int64()).to_numpy(zero_copy_only=False)


def _code_draw(
    donors: pa.Array, known: CodeRange, rng: np.random.Generator
) -> tuple[np.ndarray, Callable[[np.ndarray, int], pa.Array]]:
    """Which donors have a code of the shape prefix + digits, and draws of codes of the same
    shape, attempt by attempt: their number within the column's range (numbers far outside
    it would stand out) for the first ten, then above the range — at once when the range is
    full."""
    parts = pc.extract_regex(_texts(donors), r"^(?P<prefix>\D*)(?P<digits>\d+)$")
    shaped = _flags(pc.is_valid(parts))
    prefix = pc.struct_field(parts, "prefix")
    width = pc.utf8_length(pc.struct_field(parts, "digits")).fill_null(1).to_numpy()
    low, high = known.low, known.high
    inside = 0 if known.full else 10

    def draw(rows: np.ndarray, attempt: int) -> pa.Array:
        if attempt < inside:
            number = rng.integers(low, high + 1, rows.size)
        else:
            # Just above the range; reach further each time the register holds what is there
            # (a batch of a larger, densely numbered table lies below other customers' numbers).
            reach = max(1, (high - low) // 20 + 1) << min(attempt - inside, 40)
            number = high + 1 + rng.integers(0, reach, rows.size)
        text = pc.cast(pa.array(number), pa.string())
        wide = width[rows]
        for w in np.unique(wide):
            text = pc.if_else(pa.array(wide == w), pc.utf8_lpad(text, int(w), "0"), text)
        return pc.binary_join_element_wise(prefix.take(pa.array(rows)), text, "")

    return shaped, draw


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
    made batch by batch from one large table. Every column is made at once (NumPy, Arrow).
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
    base = template.take(pa.array(donors, pa.int64()))
    by_role: dict[str, list[str]] = {}
    for column, role in roles.items():
        by_role.setdefault(role, []).append(column)
    everyone = np.arange(count)
    male, region, days = _who(rng, base, by_role)
    names = _names(rng, male, days.astype("datetime64[Y]").astype(np.int64) + 1970).names
    names = names if count else pa.array([], pa.string())
    regions = np.where(region >= 0, region, 110105)
    known_ids = [_upper(_texts(template.column(c))) for c in by_role.get("resident_id", [])]

    def new_ids(rows: np.ndarray, _attempt: int) -> pa.Array:
        sequence = rng.integers(0, 500, rows.size) * 2 + male[rows]
        return columns.resident_ids(regions[rows], days[rows], sequence)

    # New identifiers are drawn for all decoys at once, so the register is asked once a round.
    if len(known_ids) == 1:  # the usual one ID column: as it is, not a copy
        avoid_ids = known_ids[0]
    else:
        avoid_ids = pa.concat_arrays([pa.array([], pa.string()), *known_ids])
    wants = {("", "resident_id"): _Wanted("resident_id", new_ids, everyone, avoid_ids)}
    for column, role in roles.items():
        if role == "bank_card":
            wants[(column, role)] = _card_want(column, base.column(column), template, rng)
        elif role == "code":
            known = CodeRange.of(template, column) if codes is None else codes[column]
            donor = base.column(column)
            shaped, draw = _code_draw(donor, known, rng)
            owned = np.flatnonzero(shaped & _present(donor))
            # A dense numbering needs draws above it, reaching further attempt by attempt.
            wants[(column, role)] = _Wanted("customer_id", draw, owned, known.codes, tries=4)
    _free(list(wants.values()), is_taken)
    ids = pa.array(wants[("", "resident_id")].chosen, pa.string())
    found: list[pa.Table] = []

    def register(kind: str, rows: np.ndarray, values: pa.Array) -> None:
        found.append(
            pa.table(
                {
                    "decoy": pa.array(rows, pa.int32()),
                    "type": pa.array(np.full(rows.size, kind, dtype=object), pa.string()),
                    "value": values,
                }
            )
        )

    register("resident_id", everyone, ids)
    register("person_name", everyone, names)
    phones = _pick_pool(phone_pool, rng, count)
    emails = _pick_pool(email_pool, rng, count)
    out = {name: _vector.flat(base.column(name)) for name in base.column_names}
    for column, role in roles.items():
        donor = out[column]
        if role == "person_name":
            out[column] = columns.mask_like(names, donor)
        elif role == "resident_id":
            out[column] = columns.mask_like(ids, donor)
        elif role == "birth_date":
            out[column] = columns.date_like(days, donor)
        elif role == "mobile":
            out[column] = _phones(phones, donor, rng)
        elif role == "email":
            out[column] = emails if emails is not None else pa.nulls(count, pa.string())
        elif role == "bank_card":
            cards = wants[(column, role)]
            values = np.empty(count, dtype=object)
            values[cards.rows] = cards.chosen
            register("bank_card", cards.rows, pa.array(cards.chosen, pa.string()))
            out[column] = columns.mask_like(pa.array(values, pa.string()), _texts(donor))
        elif role == "plate":
            owned = np.flatnonzero(_present(donor))
            plates = columns.plate_like(donor, rng)
            out[column] = plates
            kept = pc.replace_substring_regex(
                plates.take(pa.array(owned)), r"[^0-9A-Z\x{4e00}-\x{9fff}]", ""
            )
            register("plate", owned, kept)
        elif role == "address":
            out[column] = columns.address_like(donor, rng)
        elif role == "code":
            numbers = wants[(column, role)]
            values = donor.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
            values[numbers.rows] = numbers.chosen
            out[column] = pa.array(values, pa.string())
            register("customer_id", numbers.rows, pa.array(numbers.chosen, pa.string()))
        elif role == "amount":
            out[column] = columns.amount_like(donor, rng)
    if phones is not None:
        register("mobile", everyone, phones)
    if emails is not None:
        register("email", everyone, pc.utf8_lower(emails))
    table = pa.table(
        [out[name].cast(template.schema.field(name).type) for name in template.column_names],
        schema=template.schema,
    )
    identifiers = pa.concat_tables(found)
    order = pc.sort_indices(identifiers, [("decoy", "ascending")])
    return Decoys(table=table, identifiers=identifiers.take(order), roles=roles)


def _phones(pool: pa.Array | None, donors: pa.Array, rng: np.random.Generator) -> pa.Array:
    """Pool numbers (masked as the donor is), else a masked form with its visible tail
    redrawn (no callable number) where the donor is masked, else nothing."""
    if pool is not None:
        return columns.mask_like(pool, donors)
    texts = _texts(donors)
    masked = np.flatnonzero(_flags(pc.match_substring(texts, "*")))
    values = np.empty(len(texts), dtype=object)
    # Only masked donors, which few templates have, go through Python.
    values[masked] = [_redraw_after_mask(t, rng) for t in texts.take(pa.array(masked)).to_pylist()]
    return pa.array(values, pa.string())


def _redraw_after_mask(masked: str, rng: np.random.Generator) -> str:
    """A masked phone (``138****5678``) with its visible tail redrawn: no callable number."""
    cut = masked.rfind("*") + 1
    tail = "".join(str(rng.integers(0, 10)) if c.isdigit() else c for c in masked[cut:])
    return masked[:cut] + tail


def _card_want(
    column: str, donors: pa.ChunkedArray | pa.Array, template: pa.Table, rng: np.random.Generator
) -> _Wanted:
    """New card numbers for the donors that have one: the donor's BIN and length (masked or
    not) and a Luhn check digit, none of the template's cards."""
    texts = _texts(donors)
    owned = np.flatnonzero(_present(texts))
    digits = pc.replace_substring_regex(texts, r"\D", "")
    masked = _flags(pc.match_substring(texts, "*"))
    length = np.where(
        masked,
        pc.utf8_length(texts).fill_null(0).to_numpy(zero_copy_only=False),
        pc.utf8_length(digits).fill_null(0).to_numpy(zero_copy_only=False),
    )
    length = np.maximum(length, 16)
    has_bin = _flags(pc.greater_equal(pc.utf8_length(digits), 6))
    bins = np.where(has_bin, _numbers(pc.utf8_slice_codeunits(digits, 0, 6)), 622202)

    def draw(rows: np.ndarray, _attempt: int) -> pa.Array:
        return columns.card_numbers(bins[rows], length[rows], rng)

    known = _texts(template.column(column))  # nulls match no candidate
    if not _digits_only(known):  # 6222 0212 …: compare digits only
        known = pc.replace_substring_regex(known, r"\D", "")
    return _Wanted("bank_card", draw, owned, known)


def _digits_only(values: pa.Array) -> bool:
    """Whether every value is a non-empty run of ASCII digits (nulls aside): a byte scan, a
    tenth of Arrow's per-value ``utf8_is_digit`` on a batch's 62,500 cards."""
    offsets, data = _vector.raw_buffers(values)
    text = data[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets)
    if values.null_count:
        lengths = lengths[_flags(values.is_valid())]
    return bool((lengths > 0).all() and ((text >= ord("0")) & (text <= ord("9"))).all())


def count_for(n_rows: int, rate: float = 0.03) -> int:
    """The default number of decoys for ``n_rows`` real rows: ``rate`` of them, at least one."""
    if n_rows <= 0:
        return 0
    return max(1, round(n_rows * rate))


__all__ = ["ROLES", "Decoys", "column_roles", "count_for", "interleave", "make_decoys", "positions"]
