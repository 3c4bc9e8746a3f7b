"""The export's in-memory register questions answer as the register's join does
(:func:`leaktrace.store.tokens_exist` is the oracle)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from leaktrace import customers, keys, store, synth
from leaktrace.release import export as exporter
from leaktrace.release import held as held_module
from leaktrace.release.held import HeldNumbers, HeldTokens, _Sorted


@contextlib.contextmanager
def _released(tmp_path, seed: int) -> Iterator[tuple[pa.Table, store.Workspace]]:
    """400 synthetic customers, registered and released once (so that decoys' tokens are held
    too), and their workspace."""
    people = synth.customers(400, seed=seed)
    source = tmp_path / "c.csv"
    pacsv.write_csv(people, source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        made = exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p")
        assert made.decoys
        yield people, ws


def test_held_tokens_answer_as_the_register_join(tmp_path) -> None:
    with _released(tmp_path, seed=41) as (people, ws):
        key = ws.keyring.key("match")
        decoy = ws.db.sql("SELECT token FROM decoy_tokens").to_arrow_table().column(0)
        probe = pa.concat_arrays(
            [
                customers.customer_refs(key, people["customer_id"].slice(0, 50)).cast(
                    pa.binary(16)
                ),
                keys.tokens(key, "resident_id", people["id_number"].slice(100, 50)),
                keys.tokens(key, "bank_card", pa.array([f"62{i:017d}" for i in range(40)])),
                decoy.combine_chunks().cast(pa.binary(16)).slice(0, 30),
                pa.nulls(5, pa.binary(16)),
            ]
        )
        held = HeldTokens(ws.db)
        ahead = HeldTokens(ws.db)  # read in a thread with a cursor of its own
        ahead.read_ahead([0, 1, 3])
        # The customers' number tokens asked of the numbering's copy; the rest of kind 0 read.
        shared = HeldTokens(ws.db, HeldNumbers(ws.db))
        shared.read_ahead([0, 3])
        for kinds in ([0], [1], [1, 3], [0, 1, 3], [2]):
            expected = store.tokens_exist(ws.db, probe, kinds)
            assert held.holds(probe, kinds) == expected, kinds
            assert ahead.holds(probe, kinds) == expected, kinds
            assert shared.holds(probe, kinds) == expected, kinds
            assert sum(expected) >= (50 if kinds != [2] else 0)
            with patch.object(held_module, "HELD_AT_MOST", 100):  # resident IDs are asked by join
                assert HeldTokens(ws.db).holds(probe, kinds) == expected, kinds

        # Customer numbers to register ids: as the join answers, in memory or (a register over
        # HELD_AT_MOST) by the join itself; numbers the register does not hold and nulls: -1.
        numbers = pa.concat_arrays(
            [
                people["customer_id"].combine_chunks().cast(pa.string()),
                pa.array(["no-such-customer", None, ""], pa.string()),
            ]
        )
        refs = customers.customer_refs(key, numbers)
        expected_ids = store.ids_for_refs_array(ws.db, refs)
        assert (expected_ids[:400] >= 0).all() and (expected_ids[400:] == -1).all()
        assert HeldNumbers(ws.db).ids(refs).tolist() == expected_ids.tolist()
        with patch.object(held_module, "HELD_AT_MOST", 100):
            assert HeldNumbers(ws.db).ids(refs).tolist() == expected_ids.tolist()


def test_sorted_tokens_with_a_shared_first_half() -> None:
    """Tokens that share their first eight bytes (rare in the register, made here)."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 256, (600, 16), dtype=np.uint8)
    raw[100:110, :8] = raw[99, :8]  # a run of eleven tokens with one first half
    tokens = pa.array([bytes(r) for r in raw], pa.binary(16))
    held = _Sorted(tokens.slice(0, 500))
    probe = raw.copy()
    probe[500:, :8] = raw[99, :8]  # the same first half, unheld second halves
    answers = held.holds(pa.array([bytes(r) for r in probe], pa.binary(16)))
    assert answers[:500].all() and not answers[500:].any()
    assert not held.holds(pa.nulls(3, pa.binary(16))).any()
    assert not _Sorted(pa.array([], pa.binary(16))).holds(tokens).any()


def test_tokens_as_read_and_as_cast_give_the_same_words() -> None:
    """The register's reads (variable-length binary, 16 bytes each) are viewed in place; a
    null, another length or another type goes through Arrow's cast, with the same words."""
    raw = [bytes(range(i, i + 16)) for i in range(20)]
    for tokens in (
        pa.array(raw, pa.binary()).slice(3, 12),
        pa.array(raw, pa.binary(16)).slice(3, 12),
        pa.array([*raw[:3], None, *raw[4:]], pa.binary()).slice(3, 12),
    ):
        high, low, present = held_module._words(tokens)
        for h, lo, p, token in zip(high, low, present, tokens.to_pylist(), strict=True):
            assert p == (token is not None)
            if token is not None:
                assert (int(h), int(lo)) == (
                    int.from_bytes(token[:8], "little"),
                    int.from_bytes(token[8:], "little"),
                )
    assert held_module._packed(pa.array([b"short"], pa.binary())) is None


def test_an_empty_register_numbers_no_row(tmp_path) -> None:
    people = synth.customers(300, seed=43)
    source = tmp_path / "c.csv"
    pacsv.write_csv(people, source)
    with store.init_workspace(tmp_path / "ws") as ws:
        made = exporter.export(ws, str(source), tmp_path / "o.csv", recipient="r", purpose="p")
        assert made.customers == 0 and made.rows == 300 + made.decoys
        refs = customers.customer_refs(ws.keyring.key("match"), people["customer_id"])
        with HeldNumbers(ws.db) as numbers:
            assert (numbers.ids(refs) == -1).all()
    assert (_Sorted(pa.array([], pa.binary(16)), np.empty(0, np.int64)).find(refs) == -1).all()


def test_a_register_too_large_to_hold_numbers_the_rows_by_join(tmp_path) -> None:
    """Over HELD_AT_MOST customers, the rows are numbered by the register's join, in the
    export's numbering thread (a cursor of its own): every customer is found, as in memory."""
    people = synth.customers(300, seed=46)
    source = tmp_path / "c.csv"
    pacsv.write_csv(people, source)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        registered = ws.db.sql("SELECT customer_id FROM customers ORDER BY 1").fetchall()
        for name, at_most in (("held.csv", 10**6), ("joined.csv", 100)):
            with patch.object(held_module, "HELD_AT_MOST", at_most):
                out = tmp_path / name
                made = exporter.export(ws, str(source), out, recipient=name, purpose="p")
            members = ws.db.sql(
                "SELECT customer_id FROM release_customers WHERE release_id = ? ORDER BY 1",
                params=[made.release_id],
            ).fetchall()
            assert made.customers == 300 and members == registered, name


def test_the_workspace_closes_while_a_read_ahead_is_unasked(tmp_path, monkeypatch) -> None:
    """A list without customer numbers never asks for the register's numbers, which are read
    as the export starts; the export waits for the read, so that the workspace closes (DuckDB
    refuses to close a connection while a cursor of it reads)."""
    read_numbers = held_module._read_numbers

    def slow_read(db):
        db.sql("SELECT sum(i % 7) FROM range(1000000000) r(i)").fetchall()
        return read_numbers(db)

    monkeypatch.setattr(held_module, "_read_numbers", slow_read)
    people = synth.customers(300, seed=44)
    source, listing = tmp_path / "c.csv", tmp_path / "list.csv"
    pacsv.write_csv(people, source)
    pacsv.write_csv(people.select(["name", "mobile", "address"]).slice(0, 50), listing)
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(source))
        made = exporter.export(ws, str(listing), tmp_path / "o.csv", recipient="r", purpose="p")
        assert made.customers == 50
    with store.open_workspace(tmp_path / "ws") as ws:  # closed, and whole
        assert store.releases(ws.db)[-1]["status"] == "complete"


def test_held_id_numbers_name_their_customers_as_the_join_does(tmp_path) -> None:
    """The owners of held tokens (a customer's register id; -1 for a decoy's token, an unknown
    one or null), and the check of a customer-number column made with them: the same verdicts
    as the join over the whole register, for numbers that agree, for a pasted-wrong column and
    for a list whose ID numbers are masked."""
    with _released(tmp_path, seed=45) as (people, ws):
        key = ws.keyring.key("match")
        resident = customers.EXACT_KINDS["resident_id"]
        decoy = ws.db.sql(
            "SELECT token FROM decoy_tokens WHERE kind = ?", params=[resident]
        ).to_arrow_table()
        probe = pa.concat_arrays(
            [
                keys.tokens(key, "resident_id", people["id_number"].combine_chunks()),
                decoy.column(0).combine_chunks().cast(pa.binary(16)),
                keys.tokens(key, "resident_id", pa.array(["110105199001010000", None])),
            ]
        )
        ids = HeldNumbers(ws.db).ids(customers.customer_refs(key, people["customer_id"]))
        expected = np.concatenate([ids, np.full(len(probe) - 400, -1)])
        assert (ids >= 0).all() and decoy.num_rows
        held = HeldTokens(ws.db)
        assert held.owners(probe, resident) is None  # not read: the join answers instead
        held.read_ahead([resident])
        assert held.owners(probe, resident).tolist() == expected.tolist()
        with patch.object(held_module, "HELD_AT_MOST", 100):
            too_many = HeldTokens(ws.db)
            too_many.read_ahead([resident])
            assert too_many.owners(probe, resident) is None
            too_many.close()

        mapping = customers.propose_mapping(pa.Table.from_batches(people.to_batches()))
        first = people["customer_id"][0].as_py()
        pasted = people.set_column(0, "customer_id", pa.array([first] * 400))
        # ID numbers masked: the held tokens name no one, and the join's composite tokens
        # (name with the ID's head and tail) still check the numbers.
        ids = people["id_number"].to_pylist()
        masked = people.set_column(
            people.column_names.index("id_number"),
            "id_number",
            pa.array([f"{v[:4]}**********{v[-4:]}" for v in ids]),
        )
        for table, agree in ((people, True), (pasted, False), (masked, True)):
            refs = customers.customer_refs(key, table["customer_id"])
            numbered = HeldNumbers(ws.db).ids(refs)
            by_join = customers.numbers_agree(ws, table, mapping, numbered)
            by_held = customers.numbers_agree(ws, table, mapping, numbered, held_owners=held.owners)
            assert by_join == by_held == agree
        held.close()
