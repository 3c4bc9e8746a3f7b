"""The ledger: appends chain and MAC every entry; any edit, deletion, reordering or forgery is
found at the right entry; Merkle inclusion proofs follow RFC 6962; the CLI reports both."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leaktrace import keys, ledger, store
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError, LedgerError

runner = CliRunner()

# Bodies of the kind the export, canary and case code will write (no raw identifiers).
BODIES = [
    (
        "release",
        {"recipient": "电销三组", "purpose": "信用卡分期营销", "rows": 5000, "sha256": "ab" * 32},
    ),
    ("canary", {"count": 20, "pool": "owned-400"}),
    (
        "release",
        {"recipient": "合作方B", "purpose": "贷后回访", "rows": 20, "customers": [3, 1, 2]},
    ),
    ("release_aborted", {"release": 3, "reason": "interrupted"}),
    ("case", {"leak": "样本.xlsx", "matched": 18, "cites": [1, 3]}),
]
SIZE = len(BODIES)


@pytest.fixture
def ws(tmp_path):
    """A workspace whose ledger holds the five entries of BODIES."""
    with store.init_workspace(tmp_path / "ws") as workspace:
        for kind, body in BODIES:
            ledger.append(workspace, kind, body)
        yield workspace


def sql(workspace, statement, parameters=()):
    """Tamper with the store directly, as someone with file access could."""
    workspace.db.execute(statement, list(parameters)).fetchall()


def broken_at(workspace):
    found = ledger.verify(workspace)
    assert not found.ok
    return found.broken_seq, found.problem


# -- appending --------------------------------------------------------------------------------


def test_appended_entries_chain_hash_and_mac(ws):
    found = ledger.entries(ws)
    key = ws.keyring.key("ledger")
    assert [e.seq for e in found] == list(range(1, SIZE + 1))
    assert [(e.kind, e.body) for e in found] == [(k, json.loads(json.dumps(b))) for k, b in BODIES]
    previous = ledger.GENESIS
    for entry in found:
        assert entry.prev_hash == previous
        assert entry.body_json == ledger.canonical_json(entry.body)
        assert " " not in entry.body_json.replace("信用卡分期营销", "")
        assert entry.entry_hash == ledger.entry_hash(
            entry.seq, entry.kind, entry.time, entry.body_json, entry.prev_hash
        )
        assert entry.mac == hmac.digest(key, entry.entry_hash, "sha256")
        assert entry.timestamp.tzinfo is not None
        previous = entry.entry_hash
    head = ledger.head(ws)
    assert (head.seq, head.entry_hash) == (SIZE, found[-1].entry_hash)
    result = ledger.verify(ws)
    assert result.ok and result.entries == SIZE and result.head == head
    assert result.check() is result


def test_entries_by_kind_and_since(ws):
    assert [e.seq for e in ledger.entries(ws, kind="release")] == [1, 3]
    assert [e.seq for e in ledger.entries(ws, since_seq=3)] == [4, 5]
    assert [e.seq for e in ledger.entries(ws, kind="release", since_seq=1)] == [3]
    assert ledger.entries(ws, kind="nothing") == []
    assert ledger.entry(ws, 4).kind == "release_aborted"
    assert ledger.entry(ws, 99) is None


def test_canonical_body_is_sorted_compact_utf8():
    text = ledger.canonical_json({"b": [1, 2], "a": {"y": "王", "x": 1.5}})
    assert text == '{"a":{"x":1.5,"y":"王"},"b":[1,2]}'
    with pytest.raises(ValueError):
        ledger.canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        ledger.canonical_json([1, 2])


def test_entry_hash_fields_cannot_run_into_each_other():
    time, prev = "2026-11-23T09:00:00.000000Z", ledger.GENESIS
    hashes = {
        ledger.entry_hash(1, "case", time, '{"a":1}', prev),
        ledger.entry_hash(1, "cas", "e" + time, '{"a":1}', prev),
        ledger.entry_hash(2, "case", time, '{"a":1}', prev),
        ledger.entry_hash(1, "case", time, '{"a":1}', b"\x01" + prev[1:]),
        ledger.entry_hash(1, "case", time + '{"a":1}', "", prev),
    }
    assert len(hashes) == 5


@pytest.mark.parametrize("kind", ["", "Release", "re lease", "发布", "x" * 65, None])
def test_bad_kinds_are_refused(ws, kind):
    with pytest.raises(ValueError, match="kind"):
        ledger.append(ws, kind, {})
    assert len(ledger.entries(ws)) == SIZE


def test_append_joins_the_callers_transaction_and_rolls_back_with_it(ws):
    before = ledger.head(ws)
    with pytest.raises(RuntimeError), ws.transaction():
        entry = ledger.append(ws, "release", {"recipient": "电销四组"})
        sql(ws, "INSERT INTO meta VALUES ('probe', 'x')")
        assert entry.seq == SIZE + 1 and len(ledger.entries(ws)) == SIZE + 1
        raise RuntimeError("the export failed after the entry was written")
    assert len(ledger.entries(ws)) == SIZE
    assert ledger.head(ws) == before
    assert ws.db.execute("SELECT count(*) FROM meta WHERE key = 'probe'").fetchall()[0][0] == 0
    assert ledger.verify(ws).ok
    with ws.transaction():
        entry = ledger.append(ws, "release", {"recipient": "电销四组"})
        sql(ws, "INSERT INTO meta VALUES ('probe', 'x')")
    assert entry.seq == SIZE + 1 and ledger.verify(ws).entries == SIZE + 1


@pytest.mark.parametrize("commit", [False, True])
def test_kill_9_inside_the_transaction_leaves_no_entry(ws, commit):
    folder = str(ws.path)
    ws.close()
    script = (
        "import sys, time\n"
        "from leaktrace import ledger, store\n"
        f"ws = store.open_workspace({folder!r})\n"
        "ws.db.execute('BEGIN TRANSACTION').fetchall()\n"
        "ledger.append(ws, 'release', {'recipient': 'killed'})\n"
        + ("ws.db.execute('COMMIT').fetchall()\n" if commit else "")
        + "print('appended', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "appended"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with store.open_workspace(folder) as workspace:
        result = ledger.verify(workspace)
        assert result.ok and result.entries == SIZE + commit
        assert [e.body.get("recipient") for e in ledger.entries(workspace, since_seq=SIZE)] == (
            ["killed"] if commit else []
        )


def test_transaction_probe(ws):
    assert not store.in_transaction(ws.db)
    with ws.transaction():
        assert store.in_transaction(ws.db)
    assert not store.in_transaction(ws.db)


def test_ledger_persists_and_an_old_workspace_is_migrated(tmp_path):
    folder = tmp_path / "ws"
    with store.init_workspace(folder) as workspace:
        statements = "\n".join(s for step in store.MIGRATIONS[1:] for s in step)
        for table in re.findall(r"CREATE TABLE (\w+)", statements):
            sql(workspace, f"DROP TABLE {table}")  # back to what schema version 1 had
        sql(workspace, "UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with store.open_workspace(folder) as workspace:
        assert workspace.schema_version == store.SCHEMA_VERSION
        ledger.append(workspace, "case", {"n": 1})
    with store.open_workspace(folder) as workspace:
        result = ledger.verify(workspace)
        assert result.ok and result.entries == 1


def test_empty_ledger(tmp_path):
    with store.init_workspace(tmp_path / "ws") as workspace:
        result = ledger.verify(workspace)
        assert result.ok and result.entries == 0 and result.head is None
        assert ledger.entries(workspace) == []


# -- tampering --------------------------------------------------------------------------------

# Field, a new value computed from the old row's seq, and the problem verify must name.
EDITS = [
    ("kind", lambda seq: "case" if seq != 5 else "release", "edited"),
    ("time", lambda seq: "2026-11-23T00:00:00.000000Z", "edited"),
    ("body", lambda seq: '{"rows":1}', "edited"),
    ("entry_hash", lambda seq: os.urandom(32), "edited"),
    ("prev_hash", lambda seq: os.urandom(32), "broken_link"),
    ("mac", lambda seq: os.urandom(32), "bad_mac"),
    ("key_version", lambda seq: 2, "key_version"),
    ("seq", lambda seq: seq + 100, "missing"),
]


@pytest.mark.parametrize("seq", range(1, SIZE + 1))
@pytest.mark.parametrize(("field", "value", "problem"), EDITS, ids=[e[0] for e in EDITS])
def test_editing_any_field_of_any_entry_is_found_there(ws, seq, field, value, problem):
    sql(ws, f"UPDATE ledger SET {field} = ? WHERE seq = ?", [value(seq), seq])
    assert broken_at(ws) == (seq, problem)
    with pytest.raises(LedgerError, match=f"broken at entry {seq}"):
        ledger.verify(ws).check()


def test_a_body_with_the_same_content_but_other_spacing_is_an_edit(ws):
    body = ledger.entry(ws, 2).body_json
    sql(ws, "UPDATE ledger SET body = ? WHERE seq = 2", [body.replace(",", ", ")])
    assert broken_at(ws) == (2, "edited")


def test_a_body_that_is_not_json_is_a_ledger_error_where_it_is_read(ws):
    """A command that reads the body (trace reads every release's) stops with the ledger's
    error, pointing to verify; listing the ledger still shows the entry."""
    sql(ws, "UPDATE ledger SET body = 'not json' WHERE seq = 2")
    entry = ledger.entry(ws, 2)
    with pytest.raises(LedgerError, match=r"entry 2 is not valid JSON.*ledger verify"):
        entry.body  # noqa: B018 - the property raises
    assert entry.summary() == "(body is not valid JSON)"
    assert entry.as_dict()["body"] == "not json"
    assert broken_at(ws) == (2, "edited")


@pytest.mark.parametrize("seq", range(1, SIZE + 1))
def test_rehashing_an_edit_without_the_key_is_a_bad_mac(ws, seq):
    row = ledger.entry(ws, seq)
    body = json.dumps({**row.body, "recipient": "someone else"}, sort_keys=True)
    digest = ledger.entry_hash(seq, row.kind, row.time, body, row.prev_hash)
    sql(ws, "UPDATE ledger SET body = ?, entry_hash = ? WHERE seq = ?", [body, digest, seq])
    assert broken_at(ws) == (seq, "bad_mac")


@pytest.mark.parametrize("seq", [1, 3])
def test_deleting_an_entry_is_found_at_it(ws, seq):
    sql(ws, "DELETE FROM ledger WHERE seq = ?", [seq])
    assert broken_at(ws) == (seq, "missing")


def test_deleting_an_entry_and_renumbering_the_rest_is_found(ws):
    sql(ws, "DELETE FROM ledger WHERE seq = 3")
    for seq in (4, 5):
        sql(ws, "UPDATE ledger SET seq = ? WHERE seq = ?", [seq - 1, seq])
    sql(ws, "UPDATE ledger_head SET seq = 4")
    assert broken_at(ws)[0] == 3


@pytest.mark.parametrize("dropped", [1, 2, SIZE])
def test_deleting_the_newest_entries_is_found_by_the_head(ws, dropped):
    sql(ws, "DELETE FROM ledger WHERE seq > ?", [SIZE - dropped])
    assert broken_at(ws) == (SIZE - dropped + 1, "truncated")


def test_deleting_the_newest_entry_and_the_head_is_found(ws):
    sql(ws, "DELETE FROM ledger WHERE seq = ?", [SIZE])
    sql(ws, "DELETE FROM ledger_head")
    assert broken_at(ws) == (None, "no_head")


def test_moving_the_head_back_without_the_key_is_found(ws):
    last_but_one = ledger.entry(ws, SIZE - 1)
    sql(ws, "DELETE FROM ledger WHERE seq = ?", [SIZE])
    sql(ws, "UPDATE ledger_head SET seq = ?, entry_hash = ?", [SIZE - 1, last_but_one.entry_hash])
    assert broken_at(ws) == (SIZE - 1, "bad_head_mac")


def test_wiping_everything_is_caught_only_by_an_anchor_kept_outside(ws):
    anchor = str(ledger.head(ws))
    assert ledger.verify(ws, anchor).ok
    assert ledger.verify(ws, "3:" + ledger.entry(ws, 3).entry_hash.hex()[:16]).ok
    sql(ws, "DELETE FROM ledger")
    sql(ws, "DELETE FROM ledger_head")
    assert ledger.verify(ws).ok  # an empty ledger is consistent in itself
    found = ledger.verify(ws, anchor)
    assert (found.ok, found.broken_seq, found.problem) == (False, SIZE, "anchor")


def test_an_anchor_from_another_history_is_found(ws):
    assert broken_at_anchor(ws, f"2:{'0' * 64}") == (2, "anchor")
    assert broken_at_anchor(ws, f"{SIZE + 1}:{'0' * 16}") == (SIZE + 1, "anchor")
    for text in ("2", "x:abcdef0123456789", "2:abc", "0:" + "0" * 16):
        with pytest.raises(ConfigError, match="anchor"):
            ledger.verify(ws, text)


def broken_at_anchor(workspace, anchor):
    found = ledger.verify(workspace, anchor)
    assert not found.ok
    return found.broken_seq, found.problem


@pytest.mark.parametrize(("a", "b"), [(2, 3), (1, SIZE), (3, 4)])
def test_swapping_two_entries_is_found_at_the_first(ws, a, b):
    sql(
        ws,
        "UPDATE ledger SET seq = CASE seq WHEN ? THEN ? ELSE ? END WHERE seq IN (?, ?)",
        [a, b, a, a, b],
    )
    assert broken_at(ws) == (a, "out_of_order")


def forge(workspace, body, key=None):
    """Append an entry the way someone without the ledger key would (or with ``key``)."""
    last = ledger.entry(workspace, SIZE)
    seq, time = SIZE + 1, last.time
    body_json = ledger.canonical_json(body)
    digest = ledger.entry_hash(seq, "release", time, body_json, last.entry_hash)
    mac = hmac.digest(key, digest, "sha256") if key else hashlib.sha256(digest).digest()
    sql(
        workspace,
        "INSERT INTO ledger VALUES (?, 'release', ?, ?, ?, ?, ?, 1)",
        [seq, time, body_json, last.entry_hash, digest, mac],
    )
    return seq, digest


def test_a_forged_entry_is_found(ws):
    seq, _ = forge(ws, {"recipient": "nobody"})
    assert broken_at(ws) == (seq, "bad_mac")


def test_a_forged_entry_with_a_forged_head_is_found(ws):
    other = keys.Keyring(keys.new_master_key()).key("ledger")
    seq, digest = forge(ws, {"recipient": "nobody"}, key=other)
    sql(
        ws,
        "UPDATE ledger_head SET seq = ?, entry_hash = ?, mac = ?",
        [seq, digest, ledger.head_mac(other, seq, digest)],
    )
    assert broken_at(ws) == (seq, "bad_mac")


def test_entries_appended_past_the_head_are_found_even_with_good_macs(ws):
    # The hardest case: right MACs (say, a restored old head) — the head still disagrees.
    seq, _ = forge(ws, {"recipient": "nobody"}, key=ws.keyring.key("ledger"))
    assert broken_at(ws) == (seq, "beyond_head")


def test_a_wrong_key_fails_at_the_first_entry_and_cannot_append(ws):
    ws.keyring = keys.Keyring(keys.new_master_key())
    assert broken_at(ws) == (1, "bad_mac")
    with pytest.raises(LedgerError, match="MAC"):
        ledger.append(ws, "case", {"n": 1})


def test_appending_is_refused_after_the_tail_was_deleted(ws):
    sql(ws, "DELETE FROM ledger WHERE seq = ?", [SIZE])
    with pytest.raises(LedgerError, match="ledger verify"):
        ledger.append(ws, "release", {"recipient": "电销四组"})
    assert broken_at(ws) == (SIZE, "truncated")  # not papered over
    sql(ws, "DELETE FROM ledger_head")
    with pytest.raises(LedgerError, match="head is missing"):
        ledger.append(ws, "release", {"recipient": "电销四组"})


# -- Merkle tree (RFC 6962) -------------------------------------------------------------------

# The Certificate Transparency reference leaves, the tree heads of their first n (n = 0…8) and two
# audit paths in the 8-leaf tree, as published with RFC 6962 implementations.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = {
    0: [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    5: [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_merkle_root_matches_rfc6962_vectors(size):
    assert ledger.merkle_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize("index", sorted(CT_PATHS))
def test_inclusion_proof_matches_rfc6962_vectors(index):
    proof = ledger.inclusion_proof(CT_LEAVES, index)
    assert [node.hex() for node in proof] == CT_PATHS[index]
    root = bytes.fromhex(CT_ROOTS[8])
    assert ledger.verify_inclusion(CT_LEAVES[index], index, 8, proof, root)


def _altered(proof, leaf, index, size, root):
    """Changes to a valid proof that must make it fail.

    (Not a different size alone: RFC 6962 paths of trees of sizes 3 and 4 can coincide; the root
    is what commits to the size.)
    """
    flipped = bytes([root[0] ^ 1]) + root[1:]
    yield list(proof), leaf + b"x", index, size, root
    yield list(proof), leaf, index, size, flipped
    yield list(proof), leaf, size, size, root
    yield [*proof, root], leaf, index, size, root
    for i in range(len(proof)):
        changed = list(proof)
        changed[i] = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        yield changed, leaf, index, size, root
        yield list(proof[:i]) + list(proof[i + 1 :]), leaf, index, size, root
    if size > 1:
        yield list(proof), leaf, (index + 1) % size, size, root


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=8), min_size=1, max_size=40, unique=True))
def test_every_inclusion_proof_verifies_and_no_altered_one_does(leaves):
    root = ledger.merkle_root(leaves)
    size = len(leaves)
    for index, leaf in enumerate(leaves):
        proof = ledger.inclusion_proof(leaves, index)
        assert len(proof) <= max(1, size - 1).bit_length()
        assert ledger.verify_inclusion(leaf, index, size, proof, root)
        for args in _altered(proof, leaf, index, size, root):
            assert not ledger.verify_inclusion(args[1], args[2], args[3], args[0], args[4])


def test_inclusion_proof_of_a_ledger_entry(ws):
    hashes = [e.entry_hash for e in ledger.entries(ws)]
    for seq in range(1, SIZE + 1):
        proof = ledger.inclusion(ws, seq)
        assert proof.root == ledger.merkle_root(hashes) and proof.verify()
        assert ledger.inclusion(ws, seq, size=seq).root == ledger.merkle_root(hashes[:seq])
    tampered = ledger.inclusion(ws, 2)
    other = ledger.Inclusion(2, hashes[2], tampered.size, tampered.root, tampered.proof)
    assert not other.verify()
    assert json.loads(json.dumps(tampered.as_dict()))["proof"] == [n.hex() for n in tampered.proof]
    for seq, size in ((0, None), (SIZE + 1, None), (3, 2), (1, SIZE + 1)):
        with pytest.raises(LedgerError):
            ledger.inclusion(ws, seq, size)


# -- command line -----------------------------------------------------------------------------


def test_cli_verify_intact_and_broken(ws):
    folder = str(ws.path)
    ws.close()
    result = runner.invoke(app, ["ledger", "verify", "-w", folder, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["entries"] == SIZE and data["head"]["seq"] == SIZE
    plain = runner.invoke(app, ["ledger", "verify", "-w", folder])
    assert plain.exit_code == 0 and "intact" in plain.stdout
    anchored = runner.invoke(
        app, ["ledger", "verify", "-w", folder, "--anchor", data["head"]["anchor"]]
    )
    assert anchored.exit_code == 0, anchored.output
    with store.open_workspace(folder) as workspace:
        sql(workspace, "UPDATE ledger SET body = '{}' WHERE seq = 2")
    result = runner.invoke(app, ["ledger", "verify", "-w", folder, "--json"])
    assert result.exit_code == LedgerError.exit_code == 5
    data = json.loads(result.stdout)
    assert (data["ok"], data["broken_seq"], data["problem"]) == (False, 2, "edited")
    assert result.stderr.startswith("error: The ledger is broken at entry 2")
    assert len(result.stderr.strip().splitlines()) == 1
    bad = runner.invoke(app, ["ledger", "verify", "-w", folder, "--anchor", "nonsense"])
    assert bad.exit_code == ConfigError.exit_code and "anchor" in bad.stderr


def test_cli_show_lists_entries_and_head(ws):
    folder = str(ws.path)
    head = str(ledger.head(ws))
    ws.close()
    result = runner.invoke(app, ["ledger", "show", "-w", folder, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [e["seq"] for e in data["entries"]] == list(range(1, SIZE + 1))
    assert data["entries"][0]["body"] == BODIES[0][1]
    assert data["head"]["anchor"] == head
    only = json.loads(
        runner.invoke(app, ["ledger", "show", "-w", folder, "--kind", "release", "--json"]).stdout
    )
    assert [e["seq"] for e in only["entries"]] == [1, 3]
    since = json.loads(
        runner.invoke(app, ["ledger", "show", "-w", folder, "--since", "4", "--json"]).stdout
    )
    assert [e["seq"] for e in since["entries"]] == [5]
    plain = runner.invoke(app, ["ledger", "show", "-w", folder])
    assert plain.exit_code == 0
    assert head in plain.stdout and "release_aborted" in plain.stdout
    assert "recipient=电销三组" in plain.stdout


def test_cli_on_an_empty_ledger(tmp_path):
    store.init_workspace(tmp_path / "ws").close()
    shown = runner.invoke(app, ["ledger", "show", "-w", str(tmp_path / "ws"), "--json"])
    assert json.loads(shown.stdout) == {"head": None, "entries": []}
    verified = runner.invoke(app, ["ledger", "verify", "-w", str(tmp_path / "ws")])
    assert verified.exit_code == 0 and "0 entries" in verified.stdout
