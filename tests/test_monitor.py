"""The insider monitor on a small synthetic bank with planted insiders and a busy colleague.

The bank (leaktrace.synth) works normally for four weeks; from day 16 a few staff misbehave,
one rule each, and one teller works three times as hard as usual on her own branch's
customers, every session with a transaction reference. Each rule must alert its insider with
its own reason, and the busy colleague must not be alerted.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pytest
from typer.testing import CliRunner

from leaktrace import access, customers, keys, monitor, store, synth
from leaktrace.cli import app
from leaktrace.exceptions import ConfigError
from leaktrace.release import export as release
from leaktrace.synth import access as sa
from leaktrace.synth.institution import ROLES

SEED = 5
CUSTOMERS = 30_000
STAFF = 300
DAYS = 28
START = 16  # the day (index) the insiders start
runner = CliRunner()


def _staff_of(world: synth.Institution, role: str, count: int) -> list[int]:
    """Rows of ``count`` staff of ``role`` employed the whole period."""
    rows = np.flatnonzero(
        (world.staff_role == ROLES.index(role))
        & (world.staff_join < world.first_day)
        & (world.staff_leave > world.last_day)
    )
    return [int(r) for r in rows[:count]]


def _planting(staff: int, make: callable, days: range) -> sa.Scenario:
    def scenario(ctx: sa.DayContext, work: sa.DayWork) -> sa.DayWork:
        if ctx.index in days:
            work.events = sa.Events.concat([work.events, make(ctx, ctx.rng(f"plant{staff}"))])
        return work

    return scenario


class Cast:
    """Who does what in the test bank (staff rows)."""

    def __init__(self, world: synth.Institution) -> None:
        self.harvester = _staff_of(world, "customer_manager", 1)[0]
        self.enumerator = _staff_of(world, "it", 1)[0]
        self.exporter = _staff_of(world, "back_office", 1)[0]
        self.copier = _staff_of(world, "call_centre", 1)[0]
        self.busy = _staff_of(world, "teller", 1)[0]
        self.leaves = world.start + datetime.timedelta(days=START + 3)

    def scenarios(self, world: synth.Institution) -> list[sa.Scenario]:
        n = world.customers
        after = range(START, DAYS)

        def credit(ctx: sa.DayContext, rng: np.random.Generator) -> sa.Events:
            people = rng.choice(n, 12, replace=False)
            seconds = np.sort(rng.integers(9 * 3600, 17 * 3600, 12))
            return sa.make_events(
                np.full(12, self.harvester),
                people,
                seconds,
                sa.CREDIT_QUERY,
                sa.CREDIT_REPORT,
                label=1,
            )

        def walk(ctx: sa.DayContext, rng: np.random.Generator) -> sa.Events:
            first = int(rng.integers(0, n - 80))
            seconds = 23 * 3600 + np.arange(80) * 30
            return sa.make_events(
                np.full(80, self.enumerator),
                np.arange(first, first + 80),
                seconds,
                sa.CORE,
                sa.QUERY,
                label=2,
            )

        def export(ctx: sa.DayContext, rng: np.random.Generator) -> sa.Events:
            people = rng.choice(n, 400, replace=False)
            seconds = 16 * 3600 + np.arange(400) // 2
            return sa.make_events(
                np.full(400, self.exporter), people, seconds, sa.CORE, sa.EXPORT, label=3
            )

        def copy(ctx: sa.DayContext, rng: np.random.Generator) -> sa.Events:
            people = rng.choice(n, 40, replace=False)
            seconds = np.sort(rng.integers(9 * 3600, 18 * 3600, 40))
            return sa.make_events(
                np.full(40, self.copier), people, seconds, sa.CALL_SYSTEM, sa.VIEW, label=4
            )

        def busy(ctx: sa.DayContext, rng: np.random.Generator) -> sa.Events:
            lo, hi = world.staff_lo[self.busy], world.staff_hi[self.busy]
            people = world.customer_order[rng.integers(lo, hi, 90)]
            seconds = np.sort(rng.integers(9 * 3600, 17 * 3600, 90))
            serial = 9_000_000 + np.arange(90)
            return sa.make_events(
                np.full(90, self.busy),
                people,
                seconds,
                sa.CORE,
                sa.VIEW,
                sa.TX,
                ctx.reference_number(serial),
            )

        return [
            _planting(self.harvester, credit, after),
            _planting(self.enumerator, walk, after),
            _planting(self.exporter, export, range(START, START + 2)),
            _planting(self.copier, copy, after),
            _planting(self.busy, busy, after),
        ]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cast, synth.Institution]:
    """A closed workspace with the bank's register and access tables (loaded from the files
    synth writes, as an institution would), and who is who."""
    folder = tmp_path_factory.mktemp("bank")
    world = synth.institution(CUSTOMERS, STAFF, SEED, days=DAYS)
    cast = Cast(world)
    world = world.with_staff_dates([cast.exporter], leave=cast.leaves)
    path = folder / "customers.parquet"
    synth.write_customers(path, CUSTOMERS, SEED, as_of=world.start - datetime.timedelta(days=1))
    synth.write_tables(world, folder, file_format="parquet")
    synth.write_activity(world, folder, file_format="parquet", scenarios=cast.scenarios(world))
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(path), jobs=1)
        for name in ("staff", "portfolios", "applications", "access_log"):
            result = access.load(ws, str(folder / f"{name}.parquet"))
            assert result.rejected == 0, result.rejects
    return folder, cast, world


@pytest.fixture
def ws_path(bank: tuple[Path, Cast, synth.Institution], tmp_path: Path) -> Path:
    """A fresh copy of the bank's workspace for one test."""
    shutil.copytree(bank[0] / "ws", tmp_path / "ws")
    return tmp_path / "ws"


@pytest.fixture(scope="module")
def scored(bank: tuple[Path, Cast, synth.Institution], tmp_path_factory) -> list[monitor.Alert]:
    """The alerts of a run over the whole period (on a copy of the workspace)."""
    copy = tmp_path_factory.mktemp("scored") / "ws"
    shutil.copytree(bank[0] / "ws", copy)
    with store.open_workspace(copy) as ws:
        return monitor.run(ws)


def _staff_id(world: synth.Institution, row: int) -> str:
    return world.staff["staff_id"][row].as_py()


def _first_alert(found: list[monitor.Alert], staff_id: str) -> monitor.Alert:
    mine = [a for a in found if a.staff_id == staff_id]
    assert mine, f"{staff_id} was not alerted"
    return min(mine, key=lambda a: a.day)


def _start(world: synth.Institution) -> datetime.date:
    return world.start + datetime.timedelta(days=START)


def _within_two_days(alert: monitor.Alert, world: synth.Institution) -> bool:
    return _start(world) <= alert.day <= _start(world) + datetime.timedelta(days=1)


def test_credit_reports_without_application_are_alerted(scored, bank):
    _, cast, world = bank
    alert = _first_alert(scored, _staff_id(world, cast.harvester))
    assert _within_two_days(alert, world)
    # Twelve strangers a day; one may happen to have applied for a loan in the last month.
    lacking = alert.features["counts"]["credit_no_app"]
    assert 10 <= lacking <= 12
    assert any(
        r.startswith(f"{lacking} credit reports (征信查询) without a loan application")
        for r in alert.reasons
    )
    assert alert.severity in ("medium", "high")


def test_only_the_harvesters_credit_queries_lack_an_application(ws_path, bank):
    # Every credit query of normal work has its application (synth draws them so): the core
    # rule fires on the planted harvester's queries and on nothing else.
    _, cast, world = bank
    with store.open_workspace(ws_path) as ws:
        store.monitor_prepare(ws.db, "branch_code")
        last = world.start + datetime.timedelta(days=DAYS - 1)
        store.monitor_add_days(ws.db, monitor.Settings().query(), world.start, last)
        rows = ws.db.execute(
            "SELECT staff_id, sum(credit_events), sum(credit_no_app) FROM monitor_days "
            "GROUP BY staff_id HAVING sum(credit_events) > 0"
        ).fetchall()
    assert len(rows) > 10
    lacking = {staff: int(n) for staff, _, n in rows if n}
    assert list(lacking) == [_staff_id(world, cast.harvester)]
    # A few of the strangers happen to have applied for a loan in the month before: covered.
    assert 0.9 * 12 * (DAYS - START) <= sum(lacking.values()) <= 12 * (DAYS - START)


def test_night_enumeration_is_alerted_as_enumeration_off_hours(scored, bank):
    _, cast, world = bank
    alert = _first_alert(scored, _staff_id(world, cast.enumerator))
    assert _within_two_days(alert, world)
    assert alert.features["counts"]["enum_customers"] >= 64
    text = " ".join(alert.reasons)
    assert "runs of neighbouring customer numbers (遍历)" in text
    assert "off hours" in text


def test_bulk_export_before_leaving_is_alerted_with_the_leave_date(scored, bank):
    _, cast, world = bank
    alert = _first_alert(scored, _staff_id(world, cast.exporter))
    assert alert.day == _start(world)
    assert alert.severity == "high"
    assert alert.features["counts"]["export_customers"] >= 400
    assert any(re.match(r"4\d\d customers exported or printed", r) for r in alert.reasons)
    assert any(r.startswith(f"leaves on {cast.leaves} (in 3 days") for r in alert.reasons)
    assert alert.features["points"]["export_customers"] > 0


def test_views_without_a_ticket_are_alerted(scored, bank):
    _, cast, world = bank
    alert = _first_alert(scored, _staff_id(world, cast.copier))
    assert _within_two_days(alert, world)
    assert any(
        "without a business reference (无业务凭证); peers' median" in r for r in alert.reasons[1:]
    )


def test_busy_colleague_with_references_is_not_alerted(scored, bank):
    _, cast, world = bank
    busy = _staff_id(world, cast.busy)
    assert not [a for a in scored if a.staff_id == busy]


def test_every_alert_has_reasons_and_few_are_raised(scored, bank):
    _, cast, world = bank
    planted = {
        _staff_id(world, r) for r in (cast.harvester, cast.enumerator, cast.exporter, cast.copier)
    }
    assert all(a.reasons and a.reasons[0].split()[1] == "customers" for a in scored)
    others = [a for a in scored if a.staff_id not in planted]
    staff_days = STAFF * DAYS
    assert len(others) <= staff_days * 3 / 1000, [(a.staff_id, a.day) for a in others]
    per_day: dict[datetime.date, int] = {}
    for a in scored:
        per_day[a.day] = per_day.get(a.day, 0) + 1
    assert max(per_day.values()) <= monitor.Settings().budget


def test_one_day_scores_as_in_the_whole_run(scored, bank, ws_path):
    # Baselines look back only: scoring one day alone gives that day's alerts of the whole run.
    day = _start(bank[2]) + datetime.timedelta(days=2)
    with store.open_workspace(ws_path) as ws:
        alone = monitor.run(ws, day, day)
    whole = [a for a in scored if a.day == day]
    assert [(a.staff_id, round(a.score, 6), a.reasons) for a in alone] == [
        (a.staff_id, round(a.score, 6), a.reasons) for a in whole
    ]


def test_rerun_updates_without_duplicates_and_keeps_review_status(ws_path, bank):
    _, cast, world = bank
    with store.open_workspace(ws_path) as ws:
        first = monitor.run(ws)
        harvester = _first_alert(first, _staff_id(world, cast.harvester))
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
    folder, cast, world = bank
    sample = tmp_path / "sample.csv"
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
        teller = _staff_id(world, cast.busy)
        day = _start(world) - datetime.timedelta(days=3)
        log = tmp_path / "lookup.csv"
        log.write_text(
            f"员工号,访问时间,身份证号,操作,系统,业务编号\n"
            f"{teller},{day} 10:30:00,{sorted(decoy_ids)[0]},view,core,TX1\n",
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
    _, cast, world = bank
    day = _start(world).isoformat()
    result = runner.invoke(
        app, ["monitor", "-w", str(ws_path), "--since", day, "--until", day, "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    alerts = json.loads(result.stdout)
    assert alerts and all(a["day"] == day and a["reasons"] for a in alerts)
    harvester = next(a for a in alerts if a["staff_id"] == _staff_id(world, cast.harvester))
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
