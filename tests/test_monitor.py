"""The insider monitor on a small synthetic bank with the planted insiders and busy colleagues
of leaktrace.synth.plant.

The bank works six weeks; after two clean weeks one case of each insider scenario starts (a
credit-report harvesting trio, a slow harvester, a manager exporting before leaving, an
off-hours enumerator, a call-centre agent copying numbers, a colluding pair), and colleagues
are legitimately busy (a month-end batch, campaign calls, a branch merger, a portfolio
takeover). Each insider must be alerted by their deadline with the reason of their behaviour,
and no busy colleague may be. The files are loaded with access.load, as an institution would.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pytest
from typer.testing import CliRunner

from leaktrace import access, customers, keys, monitor, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError
from leaktrace.release import export as release

SEED = 5
CUSTOMERS = 30_000
STAFF = 300
DAYS = 42
runner = CliRunner()
# What the first alert of each insider must say (a fragment of one of its reasons; customers
# of other branches are outside a manager's portfolio too, and named so).
ELSEWHERE = (
    "customers of other branches without a business reference",
    "customers outside own portfolio (非管户客户) without a business reference",
)
REASONS = {
    "credit_harvester": ("credit reports (征信查询) without a loan application of the customer",),
    "slow_harvester": ELSEWHERE,
    "departure_export": ("customers exported or printed (导出/打印)",),
    "offhours_enumerator": ("customers in runs of neighbouring customer numbers (遍历)",),
    "call_centre_copier": ("customers without a business reference (无业务凭证)",),
    "colluding_pair": ELSEWHERE,
}


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.Plan]:
    """A closed workspace with the bank's register and access tables, and the plan."""
    folder = tmp_path_factory.mktemp("bank")
    plan = synth.plant(synth.institution(CUSTOMERS, STAFF, SEED, days=DAYS), insiders=1, benign=1)
    world = plan.world
    path = folder / "customers.parquet"
    synth.write_customers(path, CUSTOMERS, SEED, as_of=world.start - datetime.timedelta(days=1))
    synth.write_tables(world, folder, file_format="parquet")
    synth.write_activity(world, folder, file_format="parquet", scenarios=plan.scenarios)
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(path), jobs=1)
        for name in ("staff", "portfolios", "applications", "access_log"):
            result = access.load(ws, str(folder / f"{name}.parquet"))
            assert result.rejected == 0, result.rejects
    return folder, plan


@pytest.fixture
def ws_path(bank: tuple[Path, synth.Plan], tmp_path: Path) -> Path:
    """A fresh copy of the bank's workspace for one test."""
    shutil.copytree(bank[0] / "ws", tmp_path / "ws")
    return tmp_path / "ws"


@pytest.fixture(scope="module")
def scored(bank: tuple[Path, synth.Plan], tmp_path_factory) -> list[monitor.Alert]:
    """The alerts of a run over the whole period (on a copy of the workspace)."""
    copy = tmp_path_factory.mktemp("scored") / "ws"
    shutil.copytree(bank[0] / "ws", copy)
    with store.open_workspace(copy) as ws:
        return monitor.run(ws)


def _cases(plan: synth.Plan, scenario: str) -> list[dict[str, Any]]:
    return [row for row in plan.truth.to_pylist() if row["scenario"] == scenario]


def _in(alert: monitor.Alert, row: dict[str, Any], last: str = "deadline") -> bool:
    return alert.staff_id == row["staff_id"] and row["start"] <= alert.day <= row[last]


@pytest.mark.parametrize("scenario", sorted(REASONS))
def test_each_insider_is_alerted_by_the_deadline_with_its_reason(scored, bank, scenario):
    cases = _cases(bank[1], scenario)
    assert cases
    for row in cases:
        mine = sorted((a for a in scored if _in(a, row)), key=lambda a: a.day)
        assert mine, f"{scenario} {row['staff_id']} not alerted by {row['deadline']}"
        said = [text for reason in mine[0].reasons for text in REASONS[scenario] if text in reason]
        assert said, mine[0].reasons


def test_the_credit_harvesters_queries_lack_applications(scored, bank):
    for row in _cases(bank[1], "credit_harvester"):
        first = min((a for a in scored if _in(a, row)), key=lambda a: a.day)
        assert first.features["counts"]["credit_no_app"] >= 10
        assert first.severity == "high"


def test_the_departing_exporter_is_alerted_with_the_leave_date(scored, bank):
    (row,) = _cases(bank[1], "departure_export")
    first = min((a for a in scored if _in(a, row)), key=lambda a: a.day)
    leave = (
        bank[1]
        .world.staff.filter(pc.equal(bank[1].world.staff["staff_id"], row["staff_id"]))[
            "leave_date"
        ][0]
        .as_py()
    )
    assert any(r.startswith(f"leaves on {leave}") for r in first.reasons)


def test_only_the_harvesters_credit_queries_lack_an_application(ws_path, bank):
    # Every credit query of normal work has its application (synth draws them so): the core
    # rule fires on the planted harvesters' queries and on nothing else.
    plan = bank[1]
    with store.open_workspace(ws_path) as ws:
        store.monitor_prepare(ws.db, "branch_code")
        last = plan.world.start + datetime.timedelta(days=DAYS - 1)
        store.monitor_add_days(ws.db, monitor.Settings().query(), plan.world.start, last)
        rows = ws.db.execute(
            "SELECT staff_id, sum(credit_events), sum(credit_no_app) FROM monitor_days "
            "GROUP BY staff_id HAVING sum(credit_events) > 0"
        ).fetchall()
    assert len(rows) > 10
    lacking = {staff for staff, _, n in rows if n}
    assert lacking == {row["staff_id"] for row in _cases(plan, "credit_harvester")}


def test_busy_colleagues_are_not_alerted(scored, bank):
    benign = [row for row in bank[1].truth.to_pylist() if row["benign"]]
    assert {row["scenario"] for row in benign} == set(synth.scenarios.BENIGN_SCENARIOS)
    flagged = [(a.staff_id, a.day) for a in scored for row in benign if _in(a, row, "end")]
    assert not flagged


def test_every_alert_has_reasons_and_false_ones_are_rare(scored, bank):
    insiders = [row for row in bank[1].truth.to_pylist() if not row["benign"]]
    assert all(a.reasons and a.reasons[0].split()[1] == "customers" for a in scored)
    false = [a for a in scored if not any(_in(a, row, "end") for row in insiders)]
    assert len(false) <= STAFF * DAYS / 1000, [(a.staff_id, a.day, a.reasons) for a in false]
    per_day: dict[datetime.date, int] = {}
    for a in scored:
        per_day[a.day] = per_day.get(a.day, 0) + 1
    assert max(per_day.values()) <= monitor.Settings().budget


def test_one_day_scores_as_in_the_whole_run(scored, bank, ws_path):
    # Baselines look back only: scoring one day alone gives that day's alerts of the whole run.
    # (A daily run after earlier ones: the alerts of the days before rank repeat users.)
    (row,) = _cases(bank[1], "call_centre_copier")
    day = row["start"] + datetime.timedelta(days=1)
    with store.open_workspace(ws_path) as ws:
        monitor.run(ws, until=day - datetime.timedelta(days=1))
        alone = monitor.run(ws, day, day)
    whole = [a for a in scored if a.day == day]
    assert whole
    assert [(a.staff_id, round(a.score, 6), a.reasons) for a in alone] == [
        (a.staff_id, round(a.score, 6), a.reasons) for a in whole
    ]


def _harvester(plan: synth.Plan) -> dict[str, Any]:
    return _cases(plan, "credit_harvester")[0]


def test_rerun_updates_without_duplicates_and_keeps_review_status(ws_path, bank):
    row = _harvester(bank[1])
    with store.open_workspace(ws_path) as ws:
        first = monitor.run(ws)
        harvester = min((a for a in first if _in(a, row)), key=lambda a: a.day)
        reviewed = monitor.set_status(ws, harvester.alert_id, "confirmed", "queried strangers")
        assert reviewed.status == "confirmed" and reviewed.note == "queried strangers"
        again = monitor.run(ws)
        count = ws.db.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    assert count == len(first) == len(again)
    assert {a.alert_id for a in again} == {a.alert_id for a in first}
    kept = next(a for a in again if a.alert_id == harvester.alert_id)
    assert (kept.status, kept.note, kept.created) == (
        "confirmed",
        "queried strangers",
        harvester.created,
    )
    assert kept.updated == reviewed.updated  # the re-run changed nothing in it


def test_decoy_touch_is_always_critical(ws_path, bank, tmp_path):
    folder, plan = bank
    sample = tmp_path / "sample.csv"
    planted = set(plan.truth["staff_id"].to_pylist())
    tellers = plan.world.staff.filter(pc.equal(plan.world.staff["role"], "teller"))
    teller = next(s for s in tellers["staff_id"].to_pylist() if s not in planted)
    with store.open_workspace(ws_path) as ws:
        made = release.export(
            ws,
            str(folder / "customers.parquet"),
            sample,
            recipient="agency",
            purpose="campaign",
            sample=300,
        )
        assert made.decoys > 0
        # A teller looks one decoy up by its ID number (a raw identifier, tokenized on load).
        numbers = pa_csv.read_csv(sample).column("id_number").to_pylist()
        tokens = keys.tokens(ws.keyring.key("match"), "resident_id", numbers).to_pylist()
        decoy_tokens = {bytes(t) for (t,) in ws.db.sql("SELECT token FROM decoy_tokens").fetchall()}
        decoy_ids = sorted(n for n, t in zip(numbers, tokens, strict=True) if t in decoy_tokens)
        assert decoy_ids
        day = plan.world.start + datetime.timedelta(days=20)
        log = tmp_path / "lookup.csv"
        log.write_text(
            f"员工号,访问时间,身份证号,操作,系统,业务编号\n"
            f"{teller},{day} 10:30:00,{decoy_ids[0]},view,core,TX1\n",
            encoding="utf-8",
        )
        loaded = access.load(ws, str(log))
        assert (loaded.loaded, loaded.mapping.customer_type) == (1, "resident_id")
        found = monitor.run(ws, day, day)
    alert = next(a for a in found if a.staff_id == teller)
    assert alert.severity == "critical"
    assert alert.reasons[1].startswith(
        f"touched 1 decoy customer(s) (诱饵客户) of {made.release_id}"
    )


def test_cli_prints_json_and_csv_and_reviews(ws_path, bank):
    row = _harvester(bank[1])
    day = row["start"].isoformat()
    result = runner.invoke(
        app, ["monitor", "-w", str(ws_path), "--since", day, "--until", day, "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    alerts = json.loads(result.stdout)
    assert alerts and all(a["day"] == day and a["reasons"] for a in alerts)
    harvester = next(a for a in alerts if a["staff_id"] == row["staff_id"])
    assert harvester["features"]["counts"]["credit_no_app"] >= 10

    result = runner.invoke(app, ["monitor", "list", "-w", str(ws_path), "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == [str(a["alert_id"]) for a in alerts]
    assert rows[0]["reasons"] == " | ".join(alerts[0]["reasons"])

    alert_id = str(harvester["alert_id"])
    result = runner.invoke(
        app,
        [
            "monitor",
            "review",
            alert_id,
            "--dismiss",
            "--note",
            "training",
            "-w",
            str(ws_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "dismissed"
    result = runner.invoke(
        app, ["monitor", "list", "-w", str(ws_path), "--status", "dismissed", "--json"]
    )
    assert [a["alert_id"] for a in json.loads(result.stdout)] == [int(alert_id)]
    with store.open_workspace(ws_path) as ws:
        assert monitor.alerts_by_id(ws, int(alert_id)).note == "training"


def test_cli_errors_are_one_line(ws_path):
    result = runner.invoke(app, ["monitor", "-w", str(ws_path), "--since", "31/01/2025"])
    assert result.exit_code == 2 and "--since must be a date" in result.output
    result = runner.invoke(app, ["monitor", "review", "999999", "--confirm", "-w", str(ws_path)])
    assert result.exit_code == 1 and "There is no alert 999999" in result.output
    result = runner.invoke(app, ["monitor", "review", "1", "-w", str(ws_path)])
    assert result.exit_code == 2 and "exactly one of --confirm" in result.output
    result = runner.invoke(app, ["monitor", "-w", str(ws_path), "--json", "--csv"])
    assert result.exit_code == 2


def test_empty_workspace_gives_a_clear_message(tmp_path):
    store.init_workspace(tmp_path / "ws").close()
    result = runner.invoke(app, ["monitor", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: No access events in the workspace; load them with `leaktrace access load`."
    )
    result = runner.invoke(app, ["monitor", "list", "-w", str(tmp_path / "ws")])
    assert result.exit_code == 0 and result.output.strip() == "No alerts."


def test_days_without_events_give_a_clear_message(ws_path):
    with store.open_workspace(ws_path) as ws, pytest.raises(monitor.MonitorError) as error:
        monitor.run(ws, datetime.date(2030, 1, 1))
    assert str(error.value) == "No access events on or after 2030-01-01."


def test_the_config_template_holds_the_defaults(tmp_path):
    with store.init_workspace(tmp_path / "ws") as ws:
        assert set(ws.config["monitor"]) == {f for f in monitor.Settings.__slots__}
        assert monitor.Settings.from_config(ws.config) == monitor.Settings()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"office_hours": "9 to 5"}, "office_hours must look like 07:00-20:00"),
        ({"office_hours": "20:00-07:00"}, "office_hours must look like"),
        ({"alert_score": "high"}, "alert_score must be a number"),
        ({"credit_actions": "credit_report"}, "credit_actions must be a list of strings"),
        ({"budget": 3}, "unknown setting 'budget'"),
        ({"enumeration_run": 1}, "enumeration_block and enumeration_run must be ≥ 2"),
        ({"analysts": 0}, "analysts and alerts_per_analyst must be ≥ 1"),
        ({"alerts_per_analyst": 0}, "analysts and alerts_per_analyst must be ≥ 1"),
    ],
)
def test_bad_settings_are_config_errors(section, message):
    with pytest.raises(ConfigError, match=message):
        monitor.Settings.from_config({"monitor": section})


def test_robust_z_uses_the_widest_scale():
    z = monitor.robust_z(
        np.array([30.0, 30.0, 30.0]),
        np.array([0.0, 0.0, 0.0]),
        np.array([0.0, 0.0, 2.0]),
        np.array([np.nan, 23.0, np.nan]),
    )
    # √(0 + 1) alone; the role's usual high of 23 gives a scale of 10; a spread of 2.
    assert z.tolist() == pytest.approx([30.0, 3.0, 15.0])


def test_the_budget_goes_to_new_users_before_open_cases():
    day = datetime.date(2025, 3, 3)
    table = pa.table(
        {
            "staff_id": ["E1", "E2", "E3", "E4"],
            "day": [day, day, day, day],
        }
    )
    total = np.array([50.0, 20.0, 30.0, 15.0])
    decoy = np.array([False, False, False, True])
    candidate = np.ones(4, bool)
    # E1 was alerted two days ago (an open case), E3 three weeks ago; one slot a day.
    alerted = {"E1": day - datetime.timedelta(days=2), "E3": day - datetime.timedelta(days=21)}
    kept = monitor._within_budget(table, total, decoy, candidate, 1, 7, alerted)
    # The decoy touch always; the slot to E3, the best of those without an open case.
    assert sorted(kept) == [2, 3]


def test_day_scores_are_the_scores_of_the_alerts(scored, ws_path):
    # The alerts are the user-days of day_scores at or above the threshold (or touching a
    # decoy), with their scores: the evaluation reads day_scores for the margins.
    with store.open_workspace(ws_path) as ws:
        settings = monitor.Settings.from_config(ws.config)
        days = monitor.day_features(ws, settings=settings)
    got = monitor.day_scores(days.table, settings, days.learned)
    keys = list(zip(days.table["staff_id"].to_pylist(), days.table["day"].to_pylist(), strict=True))
    total = dict(zip(keys, got.total.tolist(), strict=True))
    assert scored
    for a in scored:
        assert total[(a.staff_id, a.day)] == pytest.approx(a.score)
        assert a.score >= settings.alert_score or a.severity == "critical"
    above = sum(t >= settings.alert_score for t in got.total.tolist())
    assert above >= len(scored)  # the budget keeps some out, never lets more in
    assert set(got.points) >= set(monitor.SCORED) | {"credit_no_app", "enumeration", "decoy"}


def test_day_counts_match_a_reference_over_the_events(bank, ws_path):
    """The engine's per-day counts equal their definitions, recomputed here from the stored
    events with Arrow: a customer counts once a day; "without a business reference" when
    none of the day's events with them has one; exported when any was an export or print;
    off hours outside office hours or at weekends."""
    settings = monitor.Settings()
    start, end = settings.office()
    with store.open_workspace(ws_path) as ws:
        features = monitor.day_features(ws, settings=settings).table
        events = ws.db.sql(
            "SELECT staff_id, time, cust, business_ref, action FROM access_events"
        ).to_arrow_table()
    clock = pc.cast(events.column("time"), pa.time64("us"))
    off = pc.or_(
        pc.or_(pc.less(clock, pa.scalar(start, pa.time64("us"))),
               pc.greater_equal(clock, pa.scalar(end, pa.time64("us")))),
        pc.greater_equal(pc.day_of_week(events.column("time")), 5),
    )  # fmt: skip
    touches = (
        pa.table(
            {
                "staff_id": events.column("staff_id"),
                "day": pc.cast(events.column("time"), pa.date32()),
                "cust": events.column("cust"),
                "ref": pc.is_valid(events.column("business_ref")),
                "export": pc.is_in(events.column("action"), pa.array(settings.export_actions)),
                "off": off,
            }
        )
        .group_by(["staff_id", "day", "cust"])
        .aggregate([([], "count_all"), ("ref", "any"), ("export", "any"), ("off", "sum")])
    )
    customer = pc.is_valid(touches.column("cust"))
    no_ref = pc.and_(customer, pc.invert(touches.column("ref_any")))
    per_touch = pa.table(
        {
            "staff_id": touches.column("staff_id"),
            "day": touches.column("day"),
            "events": touches.column("count_all"),
            "customers": customer,
            "no_ref": no_ref,
            "export_customers": pc.and_(customer, touches.column("export_any")),
            "off_events": touches.column("off_sum"),
            "off_no_ref": pc.and_(no_ref, pc.greater(touches.column("off_sum"), 0)),
        }
    )
    counted = ["events", "customers", "no_ref", "export_customers", "off_events", "off_no_ref"]
    expected = per_touch.group_by(["staff_id", "day"]).aggregate([(c, "sum") for c in counted])
    expected = expected.rename_columns(["staff_id", "day", *counted])
    got = features.select(["staff_id", "day", *counted])
    order = [("staff_id", "ascending"), ("day", "ascending")]
    assert expected.num_rows == got.num_rows > 0
    expected, got = expected.sort_by(order), got.sort_by(order)
    for name in counted:
        assert pc.cast(got.column(name), pa.int64()).equals(
            pc.cast(expected.column(name), pa.int64())
        ), name


def test_a_staff_member_without_a_branch_passes_the_hash_check(ws_path):
    """Staff ids and branches are keyed by 64-bit hashes, checked for collisions; a missing
    branch code is no branch, not a second one with the hash of NULL."""
    with store.open_workspace(ws_path) as ws:
        ws.db.execute("BEGIN")
        try:
            ws.db.execute(
                "UPDATE staff SET branch_code = NULL WHERE staff_id = (SELECT min(staff_id) "
                "FROM staff)"
            )
            store.monitor_prepare(ws.db, "branch_code")
            (without,) = ws.db.execute(
                "SELECT count(*) FROM m_staff WHERE branch_code IS NULL"
            ).fetchone()
        finally:
            ws.db.execute("ROLLBACK")
    assert without == 1
