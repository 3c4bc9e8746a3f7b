"""Access logs, staff, applications and portfolios: guessing, tokens only at rest, incremental
loads without double counting, malformed lines reported by line number, and a load killed by
kill -9 (issue 6, acceptance items 4 and 5)."""

from __future__ import annotations

import json

import pyarrow.csv as pacsv
import pytest

from leaktrace import access, customers, store, synth

DAYS = 6
FILES = ("staff", "portfolios", "applications", "access_log")


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """A synthetic bank of 4,000 customers written as CSV and as Parquet."""
    folder = tmp_path_factory.mktemp("bank")
    for file_format in ("csv", "parquet"):
        synth.write_institution(
            folder / file_format, 4_000, staff=40, days=DAYS, seed=5, file_format=file_format
        )
    return folder


def _rows(path) -> int:
    if str(path).endswith(".csv"):
        return pacsv.read_csv(path).num_rows
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_synthetic_bank_loads_whole(bank, tmp_path, file_format):
    folder = bank / file_format
    with store.init_workspace(tmp_path / "ws") as ws:
        customers.load(ws, str(bank / "csv" / "customers.csv"))
        results = {}
        for name in FILES:
            path = folder / f"{name}.{file_format}"
            result = access.load(ws, str(path))
            assert result.rows == _rows(path)
            assert result.rejected == 0, result.rejects
            results[result.kind] = result
        assert list(results) == ["staff", "portfolios", "applications", "events"]
        events = results["events"]
        assert events.loaded == events.rows
        assert events.mapping.customer_type == access.NUMBER
        counts = access.status(ws)
        assert counts["events"] == events.rows
        assert counts["staff"] == results["staff"].rows
        # Every customer the log names is in the register: its id is filled in.
        unknown = ws.db.sql(
            "SELECT count(*) FROM access_events WHERE customer_id IS NULL"
        ).fetchall()[0][0]
        assert unknown == 0
        # The customer id is the register's id for that customer number.
        log = pacsv.read_csv(folder / "access_log.csv") if file_format == "csv" else None
        if log is not None:
            first = log.slice(0, 1).to_pylist()[0]
            (expected,) = customers.register_ids(ws, [first["customer_id"]])
            got = ws.db.execute(
                "SELECT customer_id FROM access_events WHERE time = ? AND staff_id = ? LIMIT 1",
                [first["time"], first["staff_id"]],
            ).fetchall()[0][0]
            assert got == expected
        load_rows = ws.db.sql("SELECT kind, mapping FROM access_loads ORDER BY load_id").fetchall()
        assert [kind for kind, _ in load_rows] == ["staff", "portfolios", "applications", "events"]
        assert json.loads(load_rows[0][1])["columns"]["role"] == "role"
