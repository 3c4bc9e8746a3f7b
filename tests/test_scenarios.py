"""Planted insider scenarios (leaktrace.synth.scenarios): each scenario's events carry its
label, fall between the ground truth's dates, belong to the planted staff and have the shape
the scenario describes; benign colleagues are busy with references; the CLI writes the truth."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from leaktrace import synth
from leaktrace.exceptions import ConfigError
from leaktrace.synth import scenarios

CUSTOMERS, STAFF, DAYS, SEED = 20_000, 150, 30, 3


@pytest.fixture(scope="module")
def world() -> synth.Institution:
    return synth.institution(CUSTOMERS, staff=STAFF, seed=SEED, days=DAYS)


@pytest.fixture(scope="module")
def plan(world) -> synth.Plan:
    return synth.plant(world, seed=SEED)


@pytest.fixture(scope="module")
def log(plan) -> pa.Table:
    return synth.access_log(plan.world, scenarios=plan.scenarios, labels=True)


@pytest.fixture(scope="module")
def days(plan) -> list[synth.DayContext]:
    return [ctx for ctx, _ in synth.access_days(plan.world, scale=1e-9)]


@pytest.fixture(scope="module")
def db(plan, log):
    con = duckdb.connect()
    world = plan.world
    con.register("log", log)
    con.register("apps", synth.applications(world, scenarios=plan.scenarios))
    con.register("truth", plan.truth)
    # Where each customer and each staff member belongs, as branch rows of the branch table.
    con.register(
        "customer_branch",
        pa.table({
            "customer_id": synth.customer_ids(np.arange(world.customers)),
            "outlet": world.customer_branch,
        }),
    )  # fmt: skip
    staff = world.staff.append_column("branch", pa.array(world.staff_branch))
    con.register("staff", staff)
    branches = world.branches.append_column("row", pa.array(np.arange(world.branches.num_rows)))
    con.register("branches", branches)
    return con


def rows(db, sql: str) -> list[tuple]:
    return db.execute(sql).fetchall()


# ---- the ground truth -----------------------------------------------------------------------


def test_every_scenario_is_planted_with_its_truth(plan):
    truth = plan.truth
    assert truth.schema.equals(synth.TRUTH_SCHEMA)
    assert set(truth["scenario"].to_pylist()) == set(scenarios.SCENARIOS)
    for row in truth.to_pylist():
        assert row["label"] == synth.LABEL_CODES[row["scenario"]]
        assert row["benign"] == (row["scenario"] in synth.BENIGN_SCENARIOS)
        assert (
            plan.world.start
            <= row["start"]
            <= row["end"]
            <= plan.world.start + datetime.timedelta(DAYS - 1)
        )
        if row["benign"]:
            assert row["deadline"] is None
            assert row["label"] >= 100
        else:
            grace = 10 if row["scenario"] == "slow_harvester" else 2
            assert row["deadline"] == row["start"] + datetime.timedelta(days=grace)
            assert 1 <= row["label"] <= 6
    # One scenario per person.
    assert len(set(truth["staff_id"].to_pylist())) == truth.num_rows


def test_insiders_have_a_history_and_start_after_a_baseline(plan):
    world = plan.world
    index = {s: i for i, s in enumerate(world.staff["staff_id"].to_pylist())}
    baseline = world.start + datetime.timedelta(days=DAYS // 3)
    for row in plan.truth.to_pylist():
        if row["benign"]:
            continue
        staff = index[row["staff_id"]]
        assert world.staff_join[staff] <= world.first_day - 28
        assert row["start"] >= baseline


def test_planted_events_carry_labels_dates_and_staff(plan, db):
    planted = rows(db, """
        select label, staff_id, min(time)::date, max(time)::date from log where label > 0
        group by all order by all
    """)  # fmt: skip
    truth = {(r["label"], r["staff_id"]): r for r in plan.truth.to_pylist()}
    seen = set()
    for label, staff_id, first, last in planted:
        row = truth[(label, staff_id)]  # only planted staff carry a scenario's label
        assert (first, last) == (row["start"], row["end"])
        seen.add((label, staff_id))
    # Every truth row has its events, but the takeover's departed manager (planted nothing).
    missing = set(truth) - seen
    assert {truth[k]["scenario"] for k in missing} <= {"portfolio_takeover"}
    assert len(missing) == len(plan.staff("portfolio_takeover")) // 2


def test_planted_events_look_like_normal_work(db):
    """Each (role, system, action) of a planted event also occurs in the role's normal work,
    from the staff member's own terminal and address."""
    normal = set(rows(db, "select distinct role, system, action from log join staff using "
                          "(staff_id) where label = 0"))  # fmt: skip
    planted = set(rows(db, "select distinct role, system, action from log join staff using "
                           "(staff_id) where label > 0"))  # fmt: skip
    assert planted and planted <= normal
    assert rows(db, """
        select count(*) from log l join staff s using (staff_id)
        where l.label > 0 and (l.terminal != s.terminal or l.ip != s.ip)
    """) == [(0,)]  # fmt: skip


def test_other_staff_are_untouched(plan, world, log):
    """Staff outside the plan have the same events as without it (event ids aside)."""
    planted = set(plan.truth["staff_id"].to_pylist())
    plain = synth.access_log(plan.world)

    def others(table: pa.Table) -> pa.Table:
        keep = pa.compute.invert(pa.compute.is_in(table["staff_id"], pa.array(list(planted))))
        return table.filter(keep).select(synth.ACCESS_SCHEMA.names[1:])

    assert others(log).equals(others(plain))
    assert others(log).num_rows > 0.8 * log.num_rows


# ---- insiders -------------------------------------------------------------------------------


def test_credit_harvester_queries_without_application(plan, db):
    harvested = rows(db, """
        select count(*), count(a.application_id), count(distinct l.staff_id)
        from log l left join apps a on l.business_ref = a.application_id
            and l.customer_id = a.customer_id and l.staff_id = a.staff_id
        where l.label = 1 and l.action = 'credit_report'
    """)[0]  # fmt: skip
    assert harvested[0] > 1000 and harvested[1] == 0
    assert harvested[2] == len(plan.staff("credit_harvester"))
    # Normal work's credit queries all have their application.
    assert rows(db, """
        select count(*) filter (where a.application_id is null), count(*)
        from log l left join apps a on l.business_ref = a.application_id
            and l.customer_id = a.customer_id and l.staff_id = a.staff_id
        where l.label = 0 and l.action = 'credit_report'
    """)[0][0] == 0  # fmt: skip
    per_day = rows(db, """
        select count(*) from log where label = 1 and action = 'credit_report'
        group by staff_id, time::date
    """)  # fmt: skip
    assert min(per_day)[0] >= 50 and max(per_day)[0] <= 300
    # Colleagues: customer managers or credit officers of one outlet, led by a manager.
    team = rows(db, """
        select t.case, count(distinct s.branch_code), list(distinct s.role)
        from truth t join staff s using (staff_id) where t.scenario = 'credit_harvester'
        group by all
    """)  # fmt: skip
    for _, outlets, roles in team:
        assert outlets == 1 and set(roles) <= {"customer_manager", "credit_officer"}


def test_slow_harvester_reaches_outside_for_weeks(plan, db):
    (row,) = [r for r in plan.truth.to_pylist() if r["scenario"] == "slow_harvester"]
    assert (row["end"] - row["start"]).days >= 14  # weeks (the period has 30 days)
    per_day = rows(db, """
        select count(distinct customer_id), count(business_ref) / count(*)
        from log where label = 2 group by time::date
    """)  # fmt: skip
    assert len(per_day) >= 10
    assert all(18 <= n <= 50 for n, _ in per_day)
    assert sum(share for _, share in per_day) / len(per_day) < 0.3  # mostly no reference
    assert rows(db, """
        select count(*) from log l join customer_branch c using (customer_id)
            join staff s using (staff_id)
        where l.label = 2 and c.outlet = s.branch
    """) == [(0,)]  # fmt: skip


def test_departure_export_before_leaving(plan, db):
    for staff_id in plan.staff("departure_export"):
        leave = rows(db, f"select leave_date from staff where staff_id = '{staff_id}'")[0][0]
        assert plan.world.start < leave <= plan.world.start + datetime.timedelta(DAYS - 1)
        per_day = rows(db, f"""
            select time::date, count(distinct customer_id), list(distinct action)
            from log where label = 3 and staff_id = '{staff_id}' group by 1 order by 1
        """)  # fmt: skip
        assert per_day and all(actions == ["export"] for _, _, actions in per_day)
        assert all(0 <= (leave - day).days <= 6 and n >= 150 for day, n, _ in per_day)
        assert (
            rows(db, f"select max(time)::date from log where staff_id = '{staff_id}'")[0][0]
            <= leave
        )
        normal = rows(db, f"""
            select count(*) filter (where action = 'export') from log
            where label = 0 and staff_id = '{staff_id}'
        """)[0][0]  # fmt: skip
        assert normal < 100 <= sum(n for _, n, _ in per_day)


def test_offhours_enumerator_walks_ids_at_night(plan, db, days):
    weekend = {c.date for c in days if c.weekend}
    (staff_id,) = plan.staff("offhours_enumerator")
    walked = rows(db, f"""
        select time, customer_id from log where label = 4 and staff_id = '{staff_id}'
        order by time, event_id
    """)  # fmt: skip
    assert len(walked) >= 300
    ids = [int(c[1:]) for _, c in walked]
    assert ids == sorted(set(ids))  # increasing, never repeated
    assert all(t.date() in weekend or t.hour >= 20 or t.hour < 7 for t, _ in walked)
    assert rows(db, "select count(business_ref) from log where label = 4") == [(0,)]


def test_call_centre_copier_opens_more_than_the_call(plan, db):
    (staff_id,) = plan.staff("call_centre_copier")
    # Under a ticket: always one of the agent's own calls of the day, for another customer.
    stray = rows(db, f"""
        select count(*) from log p where p.label = 5 and p.business_ref is not null
        and not exists (select 1 from log n where n.label = 0 and n.staff_id = '{staff_id}'
                        and n.business_ref = p.business_ref and n.time::date = p.time::date
                        and n.customer_id != p.customer_id)
    """)  # fmt: skip
    assert stray == [(0,)]
    shares = rows(db, f"""
        select count(*) filter (where business_ref is null) / count(*),
               count(*) filter (where business_ref like 'TK%') / count(*)
        from log where label = 5 and staff_id = '{staff_id}'
    """)[0]  # fmt: skip
    assert 0.3 < shares[0] < 0.7 and 0.3 < shares[1] < 0.7
    days = rows(db, f"""
        select label > 0, avg(n) from (
            select time::date, max(label) as label, count(distinct customer_id) n from log
            where staff_id = '{staff_id}' group by 1
        ) group by 1 order by 1
    """)  # fmt: skip
    assert days[1][1] > 2 * days[0][1]


def test_colluding_pair_splits_one_list(plan, db):
    (first, second) = plan.staff("colluding_pair")
    pair = rows(db, f"""
        select distinct role, branch_code from staff where staff_id in ('{first}', '{second}')
    """)  # fmt: skip
    assert len(pair) == 1  # same role and branch
    halves = [
        {
            c
            for (c,) in rows(
                db, f"select customer_id from log where label = 6 and staff_id = '{s}'"
            )
        }
        for s in (first, second)
    ]
    assert min(map(len, halves)) > 100 and not halves[0] & halves[1]
    provinces = rows(db, """
        select distinct b.province from log l join customer_branch c using (customer_id)
            join branches b on b.row = c.outlet
        where l.label = 6
    """)  # fmt: skip
    assert len(provinces) == 1  # one segment
    assert rows(db, """
        select count(*) from log l join customer_branch c using (customer_id)
            join staff s using (staff_id) where l.label = 6 and c.outlet = s.branch
    """) == [(0,)]  # fmt: skip
    per_day = rows(db, """
        select count(distinct customer_id) from log where label = 6 group by staff_id, time::date
    """)  # fmt: skip
    assert max(per_day)[0] <= 45


# ---- legitimately busy colleagues ------------------------------------------------------------


def test_month_end_batch_in_id_order_with_work_orders(db, days):
    month_end = {c.date for c in days if c.month_end}
    batches = rows(db, """
        select staff_id, time::date, list(customer_id order by time, event_id),
               count(business_ref) = count(*) and bool_and(business_ref like 'WO%')
        from log where label = 101 and action = 'view' group by 1, 2
    """)  # fmt: skip
    assert batches
    for _, day, customers, referenced in batches:
        assert day in month_end and referenced and len(customers) >= 150
        assert customers == sorted(customers)


def test_campaign_calls_on_own_customers_with_contact_records(db, days):
    campaign = {c.date for c in days if c.campaign}
    calls = rows(db, """
        select l.time::date, count(distinct l.customer_id), count(l.business_ref) = count(*),
               count(*) filter (where c.outlet != s.branch)
        from log l join customer_branch c using (customer_id) join staff s using (staff_id)
        where l.label = 102 group by all
    """)  # fmt: skip
    assert calls
    for day, customers, referenced, elsewhere in calls:
        assert day in campaign and referenced and elsewhere == 0 and customers >= 10


def test_branch_merger_serves_another_outlet_with_references(plan, db):
    merged = rows(db, """
        select count(distinct s.branch), count(distinct c.outlet),
               count(*) filter (where c.outlet = s.branch), count(l.business_ref) / count(*)
        from log l join customer_branch c using (customer_id) join staff s using (staff_id)
        where l.label = 103
    """)[0]  # fmt: skip
    assert merged[0] == 1 and merged[1] == 1 and merged[2] == 0  # one outlet serves another's
    assert merged[3] > 0.85
    assert 2 <= len(plan.staff("branch_merger")) <= 5


def test_portfolio_takeover(plan, db):
    world = plan.world
    index = {s: i for i, s in enumerate(world.staff["staff_id"].to_pylist())}
    truth = [r for r in plan.truth.to_pylist() if r["scenario"] == "portfolio_takeover"]
    departed = [r for r in truth if world.staff_leave[index[r["staff_id"]]] <= world.last_day]
    (successor,) = [r for r in truth if r not in departed]
    (gone,) = departed
    leave = world.start + datetime.timedelta(
        days=int(world.staff_leave[index[gone["staff_id"]]] - world.first_day)
    )
    assert gone["end"] == leave
    portfolio = set(synth.customer_ids(world.portfolio(index[gone["staff_id"]])).to_pylist())
    taken = rows(db, f"""
        select customer_id, business_ref, time::date from log
        where label = 104 and staff_id = '{successor["staff_id"]}'
    """)  # fmt: skip
    assert {c for c, _, _ in taken} <= portfolio
    assert sum(r is not None for _, r, _ in taken) > 0.85 * len(taken)
    assert min(d for _, _, d in taken) >= leave - datetime.timedelta(days=2)
    after = rows(db, f"select count(*) from log where staff_id = '{gone['staff_id']}' "
                     f"and time::date > '{leave}'")  # fmt: skip
    assert after == [(0,)]


# ---- the plan ---------------------------------------------------------------------------------


def test_same_seed_same_plan_and_log(world, plan, log):
    again = synth.plant(world, seed=SEED)
    assert again.truth.equals(plan.truth)
    assert again.world.staff.equals(plan.world.staff)
    assert synth.access_log(again.world, scenarios=again.scenarios, labels=True).equals(log)
    # Drawing the log again from the same plan gives it again (no state between draws).
    assert synth.access_log(
        plan.world, scenarios=plan.scenarios, labels=True, batch_rows=997
    ).equals(log)
    other = synth.plant(world, seed=SEED + 1)
    assert not other.truth.equals(plan.truth)


def test_counts_and_scale(world):
    assert synth.plant(world, insiders=0, benign=0).truth.num_rows == 0
    assert synth.plant(world, insiders=0, benign=0).scenarios == ()
    two = synth.plant(world, insiders={"colluding_pair": 2}, benign=0)
    assert len(two.truth["case"].unique()) == 2
    assert len(two.staff("colluding_pair")) == 4
    big = synth.institution(5_000, staff=2_500, seed=1, days=20)
    assert scenarios.default_count(big) == 2
    planted = synth.plant(big, benign=0)
    cases = planted.truth.group_by("scenario").aggregate([("case", "count_distinct")])
    assert {r["case_count_distinct"] for r in cases.to_pylist()} == {2}


@pytest.mark.parametrize("kind", synth.KINDS)
def test_every_kind(kind):
    world = synth.institution(8_000, staff=120, seed=2, kind=kind, days=21)
    plan = synth.plant(world)
    names = set(plan.truth["scenario"].to_pylist())
    assert {"slow_harvester", "offhours_enumerator", "call_centre_copier"} <= names
    assert ("credit_harvester" in names) == (kind != "education")
    log = synth.access_log(plan.world, scenarios=plan.scenarios, labels=True)
    labels = set(log["label"].to_pylist()) - {0}
    assert labels == {synth.LABEL_CODES[n] for n in names}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda w: synth.plant(w, insiders={"credit_harvster": 1}), "Unknown scenario"),
        (lambda w: synth.plant(w, insiders=-1), "non-negative"),
        (lambda w: synth.plant(w, seed=-1), "seed"),
        (lambda w: synth.plant(synth.institution(500, staff=20, days=5)), "7 days"),
        (
            lambda w: synth.plant(
                synth.institution(2_000, staff=40, kind="education", days=10),
                insiders={"credit_harvester": 1},
            ),
            "credit_harvester",
        ),
        (lambda w: synth.plant(w).staff("nobody"), "Unknown scenario"),
    ],
)
def test_bad_plans(world, call, message):
    with pytest.raises(ConfigError, match=message):
        call(world)


# ---- files and the CLI --------------------------------------------------------------------------


def test_write_institution_with_a_plan(tmp_path: Path):
    options = {"staff": 60, "days": 14, "seed": 5, "remarks": False}
    world = synth.institution(3_000, staff=60, seed=5, days=14)
    plan = synth.plant(world, seed=9, insiders={"departure_export": 1}, benign=0)
    summary = synth.write_institution(
        tmp_path, 3_000, insiders=plan, labels=True, file_format="parquet", **options
    )
    import pyarrow.parquet as pq

    assert pq.read_table(summary["files"]["insiders"]["path"]).equals(plan.truth)
    staff = pq.read_table(tmp_path / "staff.parquet")
    assert staff.equals(plan.world.staff)
    log = pq.read_table(tmp_path / "access_log.parquet")
    assert set(log["label"].to_pylist()) == {0, 3}
    with pytest.raises(ConfigError, match="another institution"):
        synth.write_institution(tmp_path / "other", 3_001, insiders=plan, **options)
    assert not (tmp_path / "other").exists()


def test_cli_writes_insiders(tmp_path: Path):
    from typer.testing import CliRunner

    from leaktrace.cli import app

    args = ["synth", str(tmp_path), "-n", "3000", "--staff", "80", "--days", "20", "--seed", "4",
            "--no-remarks", "--insiders", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    path = tmp_path / "insiders.csv"
    assert summary["files"]["insiders"]["path"] == str(path)
    convert = pa_csv.ConvertOptions(column_types=synth.TRUTH_SCHEMA)
    written = pa_csv.read_csv(path, convert_options=convert)
    plan = synth.plant(synth.institution(3_000, staff=80, seed=4, days=20), seed=4)
    assert written.equals(plan.truth)
    assert summary["files"]["insiders"]["rows"] == plan.truth.num_rows > 5
    # The staff file carries the leave dates the plan moved.
    staff = pa_csv.read_csv(tmp_path / "staff.csv")
    leaving = set(plan.staff("departure_export"))
    dates = {s: d for s, d in zip(staff["staff_id"].to_pylist(), staff["leave_date"].to_pylist(),
                                  strict=True) if s in leaving}  # fmt: skip
    assert dates and all(d is not None for d in dates.values())
    # Without --insiders there is no truth file.
    plain = CliRunner().invoke(app, ["synth", str(tmp_path / "plain"), "-n", "1000", "--staff",
                                     "20", "--days", "3", "--no-remarks", "--quiet"])  # fmt: skip
    assert plain.exit_code == 0 and not (tmp_path / "plain" / "insiders.csv").exists()
