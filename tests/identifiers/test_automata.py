"""Patterns matched by their automata: the same answers as RE2's, value for value."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import identifiers, scan, synth
from leaktrace._compiled import Loops
from leaktrace.identifiers import _automata, _column_text, _vector, fixed_line, mobile


def re2(values: pa.Array, pattern: str, prefix: bool = False) -> list[bool]:
    anchored = f"^(?:{pattern}){'' if prefix else '$'}"
    return pc.fill_null(pc.match_substring_regex(values, anchored), False).to_pylist()


@pytest.fixture(params=["numpy", "compiled"])
def runner(request, monkeypatch):
    """Automata run by NumPy (short columns) or by the compiled loop (long ones), whatever the
    column's length."""
    compiled = request.param == "compiled"
    monkeypatch.setattr(_automata, "_COMPILED_FROM", 0 if compiled else 2**62)
    if not compiled:
        monkeypatch.setattr(
            _automata, "_LOOPS", Loops(_automata._LOOPS.name)
        )  # as if the loop were not loaded yet
    return request.param


def test_every_pattern_the_package_matches_gives_re2s_answers(monkeypatch, runner):
    """Every (pattern, column) the text engine and the column checks ask on synthetic customers,
    answered by both: the automaton's answers are RE2's."""
    asked: list[tuple[str, pa.Array, bool]] = []
    original = _vector.full_match

    def recording(values, pattern, prefix=False):
        asked.append((pattern, _vector.as_strings(values), prefix))
        return original(values, pattern, prefix)

    monkeypatch.setattr(_vector, "full_match", recording)
    people = synth.customers(600, seed=5, remarks=True)
    lines = pc.binary_join_element_wise(
        *[pc.cast(people.column(name), pa.string()) for name in people.column_names], " "
    )
    _column_text.find_spans(lines)
    _column_text.find_spans(people.column("remark"))
    for name in people.column_names:
        scan.classify_column(name, people.column(name))
        for type_name in identifiers.registry():
            module = identifiers.get(type_name)
            for check in ("valid_column", "masked_column"):
                if hasattr(module, check):
                    getattr(module, check)(people.column(name))
    automata = {pattern for pattern, _, _ in asked if _automata.machine(pattern) is not None}
    assert len(automata) >= 15  # the phone, card, plate and e-mail patterns among them
    for pattern, values, prefix in asked:
        automaton = _automata.machine(pattern)
        if automaton is not None:
            found = _automata.full_match(values, automaton, prefix).tolist()
            assert found == re2(values, pattern, prefix), pattern


PATTERNS = [
    mobile.NATIONAL_PATTERN,
    f"0(?:{fixed_line.NATIONAL_PATTERN})",
    identifiers.get("bank_card").ISSUER_PATTERN,
    identifiers.get("email").ADDRESS_PATTERN,
    identifiers.get("plate")._COLUMN_PATTERN,
]
TEXT = st.text(st.sampled_from("0123456789Xx-@._a京A·学 \n\u00e9\U0001f600"), max_size=24)


@settings(max_examples=60, deadline=None)
@given(st.data())
@pytest.mark.parametrize("pattern", PATTERNS)
def test_matches_and_near_misses_agree_with_re2(pattern, data):
    """Values made from the pattern (Python's reading of it) and random edits of them, by both
    runners (a column sliced out of a longer one, so that offsets do not start at zero)."""
    value = data.draw(st.from_regex(pattern, fullmatch=True))
    cut = data.draw(st.integers(0, len(value)))
    values = [value, value[:cut], value[:cut] + data.draw(TEXT) + value[cut:], data.draw(TEXT)]
    column = pa.array([data.draw(TEXT), *values, None]).slice(1)
    automaton = _automata.machine(pattern)
    assert automaton is not None
    for prefix in (False, True):
        expected = re2(column, pattern, prefix)
        assert _automata.full_match(column, automaton, prefix).tolist() == expected
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        for run in (_automata._stepped, _automata._compiled):
            assert (run(column, automaton, prefix) & valid).tolist() == expected, run


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bab",
        "^ab",
        "ab$",
        "(?i:ab)",
        r"a\sb",
        "[[:alpha:]]",
        r"\x{4e00}",
        r"\p{Han}",
        "\U0001f600",
        "[]a]+",
        "[^]a]+",
        ".*(?:北京|天津)",  # a search: its automaton can take minutes to build
    ],
)
def test_syntax_read_otherwise_by_re2_is_left_to_it(pattern):
    assert _automata.machine(pattern) is None
    column = pa.array(["ab", "a b", "AB"])
    assert _vector.full_match(column, pattern).tolist() == re2(column, pattern)


def test_bytes_that_are_not_utf8_get_the_compiled_loops_answers():
    """Strings of a Parquet file are not checked: bytes that are no UTF-8 count as characters
    the pattern does not name, whichever runner a column gets."""
    raw = [b"\xff\xfe13912345678", b"13912345678", b"\xe4\xb8", b"1391234567\x80"]
    column = pa.array(raw, pa.binary()).view(pa.string())
    automaton = _automata.machine("1[3-9][0-9]{9}")
    assert _automata._stepped(column, automaton, False).tolist() == [False, True, False, False]
    assert _automata._compiled(column, automaton, False).tolist() == [False, True, False, False]


def test_a_short_column_of_long_texts_is_not_stepped_through(monkeypatch):
    """NumPy takes one step a character: long values go to RE2 (or, asked directly, to the
    compiled loop), with the same answers."""
    monkeypatch.setattr(_automata, "_LOOPS", Loops(_automata._LOOPS.name))
    pattern = "[㐀-䶿一-鿿]+"
    column = pa.array(["中" * 5000, "中文", "中" * 4999 + "a", None])
    assert not _automata.wanted(column)
    assert _automata.wanted(column.slice(1, 1))
    expected = [True, True, False, False]
    assert _vector.full_match(column, pattern).tolist() == expected
    stepped = []
    monkeypatch.setattr(_automata, "_stepped", lambda *args: stepped.append(args))
    assert _automata.full_match(column, _automata.machine(pattern)).tolist() == expected
    assert not stepped


def test_classes_with_brackets_and_carets_are_read_as_re2_reads_them(runner):
    for pattern in (r"[\]a]+", r"[^\]a]+", r"[\]^]+", "a[^0-9]b", "[a^-]+"):
        assert _automata.machine(pattern) is not None, pattern
        column = pa.array(["]a", "^]", "bb", "a-b", "a1b", "", "a]b", "^-a"])
        assert _automata.full_match(column, _automata.machine(pattern)).tolist() == re2(
            column, pattern
        ), pattern


def test_automata_are_kept_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKTRACE_CACHE", str(tmp_path))
    _automata.machine.cache_clear()
    try:
        assert _automata.machine("[0-9]{3}x") is not None
        assert len(list(tmp_path.glob("automaton-*.pickle"))) == 1
    finally:
        _automata.machine.cache_clear()
