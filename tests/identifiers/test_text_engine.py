"""The text engine: one token grammar, read one text at a time (find_all) or a whole column.

The column path (``_column_text``) must find exactly what the scalar path finds, cell by cell:
the same types at the same offsets. Both are checked against each other on adversarial texts
(hypothesis, from fragments that sit on the grammar's edges) and on synthetic remarks.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leaktrace import identifiers, synth
from leaktrace.identifiers import (
    _column_text,
    _token_loops,
    _token_scan,
    _vector,
    find_all,
    halfwidth,
    pattern_spans,
)

SHAPED = tuple(name for name in identifiers.registry() if name not in ("person_name", "address"))
PEOPLE = synth.customers(40, seed=11)
IDS = PEOPLE.column("id_number").to_pylist()
MOBILES = PEOPLE.column("mobile").to_pylist()
CARDS = PEOPLE.column("card_number").to_pylist()
EMAILS = [e for e in PEOPLE.column("email").to_pylist() if e]
PLATES = [p for p in PEOPLE.column("plate").to_pylist() if p]
ID_X = "11010519491231002X"  # GB 11643's own example, check character X
USCC = "91110000600037341L"  # python-stdnum's cn.uscc example


def scalar(texts: list[str | None]) -> list[tuple[int, int, int, str, bool]]:
    """(row, start, end, type, masked) of every pattern value, one find_all pass per cell."""
    return [
        (row, span.start, span.end, span.type, span.masked)
        for row, text in enumerate(texts)
        for span in pattern_spans(halfwidth(text or ""))
    ]


def column(values: pa.Array | pa.ChunkedArray) -> list[tuple[int, int, int, str, bool]]:
    found = _column_text.find_spans(values)
    return [
        (row, start, end, found.names[kind], bool(masked))
        for (row, start, end, kind), masked in zip(found.rows(), found.masked, strict=True)
    ]


# ---- the grammar's boundaries, in one text ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A key glued before a number does not hide it (the old look-behind did).
        ("客户Tel13912345678，同意", [("mobile", 5, 16)]),
        ("sjh13912345678", [("mobile", 3, 14)]),
        (f"sfz{ID_X}", [("resident_id", 3, 21)]),
        ("Tel+86 139 1234 5678", [("mobile", 3, 20)]),
        # … but a number glued to letters after it is no number.
        ("13912345678abc", []),
        # A mailbox named after a mobile number is one address.
        ("13912345678@qq.com", [("email", 0, 18)]),
        ("京A12345@qq.com", [("email", 1, 14)]),
        # A masked value is read before the digits around it.
        ("尾号138****5678", [("mobile", 2, 13)]),
        ("Tel138****5678", [("mobile", 3, 14)]),
        ("*13912345678", [("mobile", 1, 12)]),  # a footnote mark, not a mask
        ("1391234****", []),
        # A masked card that starts like a masked resident ID: the type whose form covers it.
        ("卡号621799*********5794挂失", [("bank_card", 2, 21)]),
        # Letters, then digits: a passport only when the whole word is one.
        ("E12345678", [("passport", 0, 9)]),
        ("ABCE12345678", []),
        ("E13912345678", [("mobile", 1, 12)]),
        # A passport before a separator, then another number (the old look-ahead did this).
        ("E12345678 13912345678", [("passport", 0, 9), ("mobile", 10, 21)]),
        ("E12345678 138****5678", [("passport", 0, 9), ("mobile", 10, 21)]),
        # A plate-like start with a tail is plain text: reading starts again after its first
        # character (新, 云, 京 … are ordinary words too).
        ("新E12345678", [("passport", 1, 10)]),
        ("使13213242528号", [("mobile", 1, 12)]),
        ("粤Z1234港G12345678", [("passport", 7, 16)]),
        ("京A12345678", []),
        ("车牌京A12345，", [("plate", 2, 9)]),
        # Glued numbers split; a tail after the last separator is a token of its own.
        (f"{ID_X} 13912345678", [("resident_id", 0, 18), ("mobile", 19, 30)]),
        (f"12 {USCC}", [("uscc", 3, 21)]),
        ("12 138****5678", [("mobile", 3, 14)]),
        # Eighteen digits are a resident ID or nothing, never a USCC.
        ("110105194912310020", []),
        # Nine numbers in one run of pieces: windows of at most eight pieces, from the left.
        (" ".join(["13912345678"] * 9), [("mobile", 12 * i, 12 * i + 11) for i in range(9)]),
        # The bare 86 country code (mobile.compact strips it).
        ("8613912345678", [("mobile", 0, 13)]),
        # An all-digit mailbox one space after a number is an e-mail address, not a digit group
        # of the number; the number before it is read on its own.
        (
            f"{CARDS[0]} 53109570@qq.com",
            [("bank_card", 0, len(CARDS[0])), ("email", len(CARDS[0]) + 1, len(CARDS[0]) + 16)],
        ),
        ("卡号6222 0212 3456 7890 128 53109570@qq.com", [("bank_card", 2, 25), ("email", 26, 41)]),
        ("+86 139 1234 5678 531@qq.com", [("mobile", 0, 17), ("email", 18, 28)]),
        # … but a word that runs into an "@" with no address after its last space is a word.
        ("6222 0212 3456 7890 128@", [("bank_card", 0, 23)]),
        # Full-width forms fold without moving offsets.
        ("电话（０１０）１２３４５６７８", [("fixed_line", 2, 15)]),
        ("ｓｆｚ" + ID_X, [("resident_id", 3, 21)]),
    ],
)
def test_boundaries(text, expected):
    spans = find_all(text, SHAPED)
    assert [(s.type, s.start, s.end) for s in spans] == expected
    assert [(t, s, e) for _, s, e, t, _ in column(pa.array([text]))] == expected


def test_strip_lookarounds_keeps_classes_and_escapes():
    pattern = r"(?<![0-9A-Za-z(])(?:a\)|[)(]b)(?!\((?:x|y)\))c"
    assert identifiers.strip_lookarounds(pattern) == r"(?:a\)|[)(]b)c"


def test_grammar_runs_in_re2():
    """The column path hands the same source to RE2; a pattern it cannot compile fails here."""
    source = identifiers.grammar().source
    assert "(?<" not in source.replace("(?P<", "") and "(?=" not in source and "(?!" not in source
    assert pc.match_substring_regex(pa.array(["x"]), source).to_pylist() == [False]


# ---- column path against scalar path -------------------------------------------------------

FRAGMENTS = [
    *IDS[:8],
    ID_X,
    ID_X[:6] + " " + ID_X[6:14] + " " + ID_X[14:],
    "110105491231002",
    *MOBILES[:8],
    "139-1234-5678",
    "+86 139 1234 5678",
    "0086",
    "86",
    *CARDS[:6],
    "6222 0212 3456 7890 128",
    *EMAILS[:6],
    *PLATES[:6],
    "京A·12345",
    "粤Z1234港",
    "使014·578",
    USCC,
    "E12345678",
    "EA1234567",
    "G12345678",
    "SE1234567",
    "010-12345678",
    "(0755)8888 1234",
    "138****5678",
    "110105********002X",
    "1****************2",
    "6222 **** **** 0128",
    "010-****5678",
    "621799*********5794",
    "Tel",
    "sjh",
    "sfz",
    "E",
    "X",
    "x",
    "A",
    "ab",
    " ",
    "-",
    "*",
    "**",
    "@",
    ".",
    "(",
    ")",
    "+",
    "_",
    "%",
    "·",
    "\n",
    "\x00",
    "1",
    "22",
    "2023",
    "20230219",
    "客户",
    "京",
    "新",
    "新E",
    "使",
    "港",
    "号",
    "，",
    "。",
    "１３８",
    "＠",
    "（",
    "）",
    "Ｘ",
    "\u3000",
    "－",
    "qq.com",
    "@qq.com",
    "53109570@qq.com",
    " 531@qq.com",
    "@163.com",
]
TEXTS = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=10).map("".join),
    st.text(st.sampled_from("0123456789 -*@.()+Xx京A使港号１＠\x00"), max_size=30),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXTS, max_size=12))
def test_column_path_agrees_with_find_all(texts):
    assert column(pa.array(texts, pa.string())) == scalar(texts)


# Text around the edges of the e-mail, word-prefix and plate alternatives, without asterisks.
SCANNED = st.one_of(
    TEXTS,
    st.text(st.sampled_from("0123456789 -@.()+Xxab_%京A使港号·＠"), max_size=30),
    st.lists(
        st.sampled_from(
            [*FRAGMENTS, "a@b", "13912345678@qq", "x@y.", "a.b@c.d-", "(+86)", "(0755)"]
        ),
        max_size=10,
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SCANNED, max_size=12))
def test_compiled_loop_cuts_the_tokens_re2_cuts(texts):
    """The compiled loop (``_token_scan``) and RE2 cut the same tokens at the same offsets."""
    strings = _column_text.fold(pa.array(texts, pa.string()))
    source = identifiers.grammar().source
    scanned = _column_text._tokens(strings, source)
    marked = _column_text._marked_tokens(strings, source)
    assert scanned[0].to_pylist() == marked[0].to_pylist()
    for ours, theirs in zip(scanned[1:], marked[1:], strict=True):
        assert ours.tolist() == theirs.tolist()


def test_masked_values_are_ascii():
    """The compiled loop leaves to RE2 only the rest of a row from the run of ASCII characters
    around its first asterisk: a masked value never holds anything else (no class that matches
    beyond ASCII: ``.``, ``\\S``, ``\\W``, ``\\D``, ``\\p``, a negated class)."""
    masked = identifiers.grammar().alternatives["masked"]
    assert masked.isascii()
    assert not re.search(r"(?<!\\)\.|\\[SWDpP]|\[\^", masked)


def test_compiled_loop_reads_the_current_grammar():
    """The compiled loop was written for this grammar; for another one the column path would
    leave every row to RE2 (right, but slow): change ``_token_scan`` and its hash with it."""
    assert _token_scan.reads(identifiers.grammar().source)


BYTE_CLASSES = ((0x30, 0x39), b"@", b"*", b" -", (0x80, 0xFF))


@settings(max_examples=200, deadline=None)
@given(st.lists(SCANNED, max_size=12), st.integers(0, 2))
def test_byte_counts_count_every_class(texts, skip):
    """The compiled count (``_token_loops.class_counts``) of bytes by class, for every class at
    once, equals a count per string and class, slices of a string array included."""
    strings = pa.array(["前缀"] * skip + [t or "" for t in texts], pa.string()).slice(skip)
    counts = _column_text._byte_counts(strings, *BYTE_CLASSES)
    for members, found in zip(BYTE_CLASSES, counts, strict=True):
        if isinstance(members, tuple):
            members = bytes(range(members[0], members[1] + 1))
        expected = [sum(b in members for b in (t or "").encode()) for t in texts]
        assert found.tolist() == expected


WORD_EDGES = ["1 X", "1 -2", "1--2", "12 ", "-1", "1x", "1X2", "Ab1 2-3X", "zZ", "", "aX1"]
WORDS = st.one_of(
    st.text(st.sampled_from("0123456789 -Xxab+()*Z"), max_size=16), st.sampled_from(WORD_EDGES)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=12))
@example(WORD_EDGES)
def test_word_shapes_read_words_as_the_patterns_do(words):
    """The compiled word shapes (``_token_loops.word_shapes``): the leading letters as
    ``lstrip`` strips them, whether the rest is a plain number as its pattern says, and then
    its separators."""
    strings = pa.array(["前缀", *words], pa.string()).slice(1)
    offsets, data = _vector.buffers(strings)
    rows = np.arange(len(words))[::-1].copy()
    letters, plain, separators = _token_loops.word_shapes(offsets, data, rows)
    for k, row in enumerate(rows.tolist()):
        rest = words[row].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        number = re.fullmatch(r"[0-9]+(?:[ -][0-9]+)*[Xx]?", rest) is not None
        assert letters[k] == len(words[row]) - len(rest)
        assert plain[k] == number
        assert separators[k] == (rest.count(" ") + rest.count("-") if number else 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("ab1 -@", max_size=12), min_size=1, max_size=8), st.data())
def test_slices_copy_the_bytes_asked_for(texts, data):
    """The compiled copy of string slices (``_token_loops.slices``) gives the bytes
    ``start:end`` of each owner, in the order asked, repeats and empty slices included."""
    strings = pa.array(["前缀", *texts], pa.string()).slice(1)
    owner = data.draw(st.lists(st.integers(0, len(texts) - 1), max_size=10))
    bounds = [sorted(data.draw(st.lists(st.integers(0, len(texts[o])), min_size=2, max_size=2)))
              for o in owner]  # fmt: skip
    start = np.array([b[0] for b in bounds], np.int64)
    end = np.array([b[1] for b in bounds], np.int64)
    found = _column_text._slices(strings, np.array(owner, np.int64), start, end)
    assert found.to_pylist() == [texts[o][b[0] : b[1]] for o, b in zip(owner, bounds, strict=True)]


@settings(max_examples=50, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=12), st.integers(0, 3))
def test_column_path_reads_slices_and_chunks(texts, cut):
    values = pa.array(["前缀", *texts], pa.string()).slice(1)
    assert column(values) == scalar(texts)
    cut = min(cut, len(texts))
    chunked = pa.chunked_array([texts[:cut], texts[cut:]], pa.string())
    assert column(chunked) == scalar(texts)


@pytest.mark.parametrize("seed", [1, 2])
def test_column_path_agrees_on_synthetic_remarks(seed):
    remarks = synth.customers(2000, seed, remarks=True).column("remark")
    expected = scalar(remarks.to_pylist())
    assert column(remarks) == expected
    per_row = Counter((row, kind) for row, _, _, kind, _ in expected)
    found = _column_text.find_spans(remarks)
    assert Counter(zip(found.row.tolist(), (found.names[t] for t in found.type), strict=True)) == (
        per_row
    )


@pytest.mark.parametrize("jobs", [2, 3])
def test_runs_in_threads_find_what_one_run_finds(monkeypatch, jobs):
    """A long column is read in runs of rows, in threads: the same values at the same rows."""
    remarks = synth.customers(1500, 3, remarks=True).column("remark")
    texts = remarks.to_pylist()
    one_run = _column_text.find_in_texts(remarks, 40)
    monkeypatch.setattr(_column_text, "THREAD_MIN_BYTES", 1000)
    monkeypatch.setattr(_vector._pool, "thread_jobs", lambda: jobs)
    runs = _vector.in_runs(len, remarks, 1000)
    assert [first for first, _ in runs][1:] and sum(size for _, size in runs) == len(texts)
    assert column(remarks) == scalar(texts)
    sliced = pa.array(["前缀", *texts], pa.string()).slice(1)
    assert column(sliced) == scalar(texts)
    counts, firsts = _column_text.find_in_texts(remarks, 40)
    assert counts == one_run[0]
    assert [(r, s) for r, s in firsts] == one_run[1]
    assert len({r for r, _ in firsts}) > 1


def test_empty_and_null_columns():
    assert column(pa.array([], pa.string())) == []
    assert column(pa.array([None, None], pa.string())) == []
    assert column(pa.array(["", "无"], pa.string())) == []
    assert _column_text.find_spans(pa.array([None], pa.string())).counts() == Counter()


def test_no_python_call_per_candidate(monkeypatch):
    """The column path checks candidates with valid_column only, never a module's validate."""
    remarks = synth.customers(500, 5, remarks=True).column("remark")
    expected = column(remarks)
    assert expected

    def refuse(value):
        raise AssertionError("validate called per candidate")

    for name in SHAPED:
        monkeypatch.setattr(identifiers.get(name), "validate", refuse)
    assert column(remarks) == expected


def test_fold_keeps_offsets_like_halfwidth():
    texts = ["１３８－１２３４", "Ｔｅｌ＠ｑｑ．ｃｏｍ\u3000ｘ", "a\x00b", "无", None, "（０１０）"]
    folded = _column_text.fold(pa.array(texts)).to_pylist()
    assert folded == [halfwidth(t or "").replace("\x00", "\x01") for t in texts]


# ---- with the finders ----------------------------------------------------------------------


def test_find_in_texts_equals_find_all_over_the_joined_column():
    """Counts and first findings as the old scan computed them: find_all over joined cells."""
    remarks = synth.customers(1500, 4, remarks=True).column("remark")
    texts = [t or "" for t in remarks.to_pylist()]
    counts, firsts = _column_text.find_in_texts(remarks, 7)
    spans = find_all("\n".join(texts))
    assert counts == Counter(span.type for span in spans)
    row_start = np.cumsum([0] + [len(t) + 1 for t in texts])
    expected = []
    for span in spans[:7]:
        row = int(np.searchsorted(row_start, span.start, side="right") - 1)
        offset = int(row_start[row])
        expected.append((row, span.type, span.start - offset, span.end - offset, span.value))
    assert [(r, s.type, s.start, s.end, s.value) for r, s in firsts] == expected


_POOL = [*synth.customers(40, 6, remarks=True).column("remark").to_pylist(), None, "", "无"]


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(_POOL) - 1), min_size=1, max_size=120),
    keep=st.integers(0, 12),
)
def test_repeated_values_are_read_once_and_counted_per_row(picks, keep):
    """A column whose values repeat is read once per distinct value: counts and first findings
    are those of reading every row."""
    values = pa.array([_POOL[i] for i in picks], pa.string())
    found = _column_text.find_in_texts(values, keep)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_column_text, "MIN_REPEATS", 2.0)  # never: every row is read
        every_row = _column_text.find_in_texts(values, keep)
    assert found == every_row


def test_finders_lose_characters_a_pattern_value_holds():
    text = "联系人王芳13912345678，住址北京市朝阳区建国路88号"
    counts, firsts = _column_text.find_in_texts(pa.array([text, None, text]), 10)
    once = Counter(span.type for span in find_all(text))
    assert counts == once + once
    assert [(row, span.type) for row, span in firsts] == [
        (row, span.type) for row in (0, 2) for span in find_all(text)
    ]


@given(st.text(st.sampled_from("0123456789 -+()Xx"), max_size=16))
def test_min_digits_is_below_every_numeric_type(value):
    """No numeric type takes a value with fewer than MIN_DIGITS digits, which both paths skip."""
    if len(re.findall("[0-9]", value)) < identifiers.MIN_DIGITS:
        for module in identifiers.grammar().digit_modules:
            assert not module.is_valid(value), module.NAME


NUMBERS = [*IDS[:4], ID_X, "110105491231002", *MOBILES[:4], *CARDS[:4], "4111111111111111",
           "378282246310005", "01012345678", "075588881234", "02112345678"]  # fmt: skip
CANDIDATES = st.one_of(
    st.text(st.sampled_from("0123456789 -+()Xx"), max_size=24),
    st.tuples(
        st.sampled_from(["", "+86", "+86 ", "86", "0086", "0086-", "(+86)", "(010)", "+860"]),
        st.sampled_from(NUMBERS),
        st.lists(st.integers(1, 18), max_size=4),
        st.sampled_from([" ", "-"]),
        st.sampled_from(["", "x", "X"]),
    ).map(lambda t: t[0] + _cut(t[1], t[2], t[3]) + t[4]),
)


def _cut(number: str, at: list[int], separator: str) -> str:
    for position in sorted(set(at), reverse=True):
        number = number[:position] + separator + number[position:]
    return number


@settings(max_examples=400, deadline=None)
@given(CANDIDATES)
def test_digit_counts_hold_every_valid_candidate(value):
    """A numeric type's DIGIT_COUNTS, which the column path filters by, holds every valid value."""
    held = len(re.findall("[0-9Xx]", value))
    for module in identifiers.grammar().digit_modules:
        if module.is_valid(value):
            assert held in module.DIGIT_COUNTS, module.NAME


@settings(max_examples=100, deadline=None)
@given(st.lists(CANDIDATES, max_size=20))
def test_digit_types_equal_valid_column_in_priority_order(values):
    """Filtering by counts and compacting once change no candidate's type."""
    rules = identifiers.grammar()
    candidates = pa.array(values, pa.large_string())
    expected = np.full(len(values), -1)
    for module in reversed(rules.digit_modules):
        valid = module.valid_column(candidates) if values else np.zeros(0, bool)
        expected[valid] = list(identifiers.registry()).index(module.NAME)
    held = np.array([len(re.findall("[0-9Xx]", v)) for v in values], dtype=np.int64)
    assert _column_text._digit_types(candidates, held, rules).tolist() == expected.tolist()


@pytest.mark.parametrize(
    "text",
    [
        f"{CARDS[0]} 53109570@qq.com {MOBILES[0]}",
        f"{CARDS[0]} 53109570@qq.c1-2 {MOBILES[1]}",  # a word inside the domain reaches past it
        f"{CARDS[0]} 53109570@163.com 1 {IDS[0]} 22@qq.com",
        f"{IDS[1]} 1@a.b-{MOBILES[2]}",
        f"京A12345@qq.com {CARDS[1]} 42@x.cn",
    ],
)
def test_column_path_agrees_after_an_address_read_again(text):
    """After an address read again, the tokens read before stand unless one reaches across it."""
    texts = [text, None, f"前 {text} 后"]
    assert column(pa.array(texts)) == scalar(texts)
