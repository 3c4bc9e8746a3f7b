"""leaktrace canary plant: tripwire customers, registered and recorded (issue 5)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from leaktrace import customers, keys, ledger, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError, SourceError
from leaktrace.release import canary

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path):
    source = tmp_path / "customers.csv"
    pacsv.write_csv(synth.customers(3000, seed=31), source)
    ws = store.init_workspace(tmp_path / "ws")
    customers.load(ws, str(source))
    yield ws, source
    ws.close()


def test_canaries_are_new_registered_as_decoys_and_in_the_ledger(workspace, tmp_path):
    ws, source = workspace
    planted = canary.plant(ws, str(source), tmp_path / "canaries.csv", count=25, note="core CIF")
    rows = pacsv.read_csv(planted.output, convert_options=pacsv.ConvertOptions(
        column_types={"customer_id": pa.string(), "id_number": pa.string(),
                      "card_number": pa.string()}))  # fmt: skip
    assert rows.num_rows == 25
    assert rows.column_names == pacsv.read_csv(source).column_names
    numbers = rows.column("customer_id").combine_chunks()
    # No canary is a registered customer, by customer number, ID number or card.
    assert customers.register_ids(ws, numbers) == [None] * 25
    match_key = ws.keyring.key("match")
    for column, kind in (("id_number", "resident_id"), ("card_number", "bank_card")):
        tokens = keys.tokens(match_key, kind, rows.column(column).combine_chunks()).to_pylist()
        held = ws.db.execute("SELECT count(*) FROM tokens WHERE list_contains(?, token)", [tokens])
        assert held.fetchall()[0][0] == 0
        assert store.tokens_exist(ws.db, pa.array(tokens, pa.binary(16))) == [True] * 25  # decoys
    # Every canary's customer number and ID number names the canary set.
    refs = customers.customer_refs(match_key, numbers)
    assert store.decoy_hits(ws.db, refs) == {planted.release_id: 25}
    ids = keys.tokens(match_key, "resident_id", rows.column("id_number").combine_chunks())
    assert store.decoy_hits(ws.db, ids) == {planted.release_id: 25}
    entry = ledger.entries(ws, kind="canary")[0]
    assert entry.body["count"] == 25 and entry.body["output_sha256"] == planted.output_sha256
    assert entry.body["purpose"] == "core CIF"
    assert ledger.verify(ws).ok
    # No phone number without a pool of the institution's own numbers.
    assert pc.all(pc.is_null(rows.column("mobile"))).as_py()


def test_bad_requests(workspace, tmp_path):
    ws, source = workspace
    with pytest.raises(ConfigError, match="--count"):
        canary.plant(ws, str(source), tmp_path / "c.csv", count=0)
    (tmp_path / "exists.csv").write_text("x\n")
    with pytest.raises(ConfigError, match="never overwrites"):
        canary.plant(ws, str(source), tmp_path / "exists.csv", count=3)
    with pytest.raises(ConfigError, match="is not a folder"):
        canary.plant(ws, str(source), tmp_path / "nodir" / "c.csv", count=3)
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,name\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no rows"):
        canary.plant(ws, str(empty), tmp_path / "c.csv", count=3)
    assert not (tmp_path / "c.csv").exists()
    assert ledger.entries(ws, kind="canary") == []


def test_cli_json(workspace, tmp_path):
    ws, source = workspace
    ws.close()
    out = tmp_path / "canaries.parquet"
    result = runner.invoke(app, ["canary", "plant", str(source), "-n", "5", "-o", str(out),
                                 "--workspace", str(tmp_path / "ws"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    planted = json.loads(result.stdout)
    assert planted["count"] == 5 and out.exists()
    with store.open_workspace(tmp_path / "ws") as again:
        assert [e.body["release_id"] for e in ledger.entries(again, kind="canary")] == [
            planted["release_id"]
        ]
