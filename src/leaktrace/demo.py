"""``leaktrace demo``: the whole story on a synthetic bank, in a few minutes.

1. A synthetic bank (customers, branches, staff, portfolios, loan applications, a month of
   access logs) in which one customer manager, the *planted insider*, queries the credit
   reports of strangers in the evenings, with no loan application — the field notes' bank case.
2. A workspace: the register of customers (tokens only), the staff directory, applications,
   portfolios and access logs loaded; the monitor run over the month (does it alert on the
   insider while the harvest goes on?); two traceable releases of 2,000 customers to two
   telesales teams; canary customers for the core tables.
3. The broker: the harvested records merged with another source's list, columns dropped and
   renamed, phones reformatted, names in traditional characters, shuffled, and a free sample
   of 30 rows passed on.
4. ``trace`` on that sample: the verdict, the evidence and the case report (HTML, and PDF with
   Chromium), and whether it names the planted insider.

Everything is seeded; nothing of a real person is used.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from leaktrace import access, customers, monitor, store, synth
from leaktrace.exceptions import ConfigError
from leaktrace.release import canary
from leaktrace.release import export as exporter
from leaktrace.report import html, pdf
from leaktrace.synth import access as logs
from leaktrace.synth.broker import resell
from leaktrace.synth.institution import MANAGER, institution
from leaktrace.trace import case as cases

CUSTOMERS, STAFF, DAYS = 20_000, 80, 30
HARVEST_DAYS, HARVEST_PER_EVENING = range(12, 17), 60
SAMPLE_ROWS = 30
Progress = Callable[[str], object]


@dataclass(frozen=True)
class DemoResult:
    """Where the demo's files are and what the trace found."""

    directory: str
    insider: str
    harvest_started: str
    first_alert: str | None  # the monitor's first alert on the insider
    other_alerts: int  # alerts on anyone else over the month
    named: tuple[str, ...]
    outcome: str
    case_id: str
    report: str
    pdf: str | None
    leak: str

    @property
    def found_insider(self) -> bool:
        """Whether the trace named the planted insider, and no one else."""
        return self.named == (self.insider,)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**self.__dict__, "found_insider": self.found_insider}


def _harvester(staff: int, targets: np.ndarray) -> synth.Scenario:
    """Evening credit queries of ``targets`` by ``staff``, HARVEST_PER_EVENING an evening."""

    def plant(ctx: logs.DayContext, work: logs.DayWork) -> logs.DayWork:
        if ctx.index not in HARVEST_DAYS:
            return work
        evening = ctx.index - HARVEST_DAYS.start
        part = targets[evening * HARVEST_PER_EVENING : (evening + 1) * HARVEST_PER_EVENING]
        rng = ctx.rng("demo harvester")
        seconds = np.sort(rng.integers(19 * 3600, 22 * 3600, part.size)).astype(np.int32)
        extra = logs.make_events(np.full(part.size, staff), part, seconds, logs.CREDIT_QUERY,
                                 logs.CREDIT_REPORT, label=1)  # fmt: skip
        return logs.DayWork(logs.Events.concat([work.events, extra]), work.applications)

    return plant


def run(directory: str | Path, seed: int = 7, progress: Progress | None = None) -> DemoResult:
    """Run the demo in ``directory`` (created; must not hold an earlier demo)."""
    say = progress or (lambda _step: None)
    folder = Path(directory)
    if (folder / "ws").exists():
        raise ConfigError(f"{folder} already holds a demo; choose a new folder")
    bank = folder / "bank"
    world = institution(CUSTOMERS, STAFF, seed, days=DAYS)
    insider = int(np.flatnonzero(world.staff_role == MANAGER)[0])
    own = set(world.portfolio(insider).tolist())
    rng = np.random.default_rng(seed)
    strangers = np.array([c for c in rng.permutation(CUSTOMERS) if c not in own], np.int32)
    targets = strangers[: HARVEST_PER_EVENING * len(HARVEST_DAYS)]
    say("writing a synthetic bank with a planted insider")
    synth.write_institution(bank, CUSTOMERS, staff=STAFF, days=DAYS, seed=seed, remarks=False,
                            scenarios=[_harvester(insider, targets)])  # fmt: skip
    insider_id = world.staff["staff_id"][insider].as_py()
    say("loading the register and the access logs")
    with store.init_workspace(folder / "ws") as ws:
        customers.load(ws, str(bank / "customers.csv"))
        for name in ("staff", "applications", "portfolios", "access_log"):
            access.load(ws, str(bank / f"{name}.csv"))
        say("watching the access logs (monitor)")
        alerts = monitor.run(ws)
        on_insider = sorted(a.day for a in alerts if a.staff_id == insider_id)
        say("releasing two campaign lists and planting canaries")
        for team in ("telesales-A", "telesales-B"):
            exporter.export(ws, str(bank / "customers.csv"), folder / f"release-{team}.csv",
                            recipient=team, purpose="card campaign", sample=2000)  # fmt: skip
        canary.plant(ws, str(bank / "customers.csv"), folder / "canaries.csv", count=20,
                     note="core customer table")  # fmt: skip
        say("the broker merges, reformats and samples the harvested list")
        leak = folder / "leak-sample.csv"
        pacsv.write_csv(_broker_sample(bank / "customers.csv", targets, seed), leak)
        say("tracing the sample")
        traced = cases.trace_leak(ws, [str(leak)])
        page = html.render(traced, html.context_of(ws, traced))
        report = folder / "case.html"
        report.write_text(page, encoding="utf-8")
        printed = None
        if pdf.browser() is not None:
            printed = folder / "case.pdf"
            pdf.write_pdf(page, printed)
        case_id = cases.record(ws, traced, report)
    return DemoResult(
        directory=str(folder),
        insider=insider_id,
        harvest_started=str(world.start + datetime.timedelta(days=HARVEST_DAYS.start)),
        first_alert=str(on_insider[0]) if on_insider else None,
        other_alerts=sum(1 for a in alerts if a.staff_id != insider_id),
        named=traced.verdict.users,
        outcome=traced.verdict.outcome,
        case_id=case_id,
        report=str(report),
        pdf=None if printed is None else str(printed),
        leak=str(leak),
    )


def _broker_sample(customers_csv: Path, targets: np.ndarray, seed: int) -> pa.Table:
    """The harvested customers' rows as the broker's 30-row free sample."""
    text = pacsv.ConvertOptions(strings_can_be_null=True, column_types={"身份证号": pa.string(),
                                "手机号": pa.string(), "客户号": pa.string()})  # fmt: skip
    everyone = pacsv.read_csv(customers_csv, convert_options=text)
    wanted = pa.array([f"C{i + 1:08d}" for i in targets])
    harvested = everyone.filter(pc.is_in(everyone.column("客户号"), wanted))
    other_source = synth.customers(harvested.num_rows, seed=seed + 1000,
                                   as_of=datetime.date(2024, 6, 30))  # fmt: skip
    return resell(harvested, seed, keep=SAMPLE_ROWS, other=other_source)
