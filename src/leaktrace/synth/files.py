"""A synthetic institution written to a folder: customers, branches, staff, portfolios, loan
applications and access logs, as CSV (UTF-8) or Parquet (zstd), and the ground truth of planted
insider scenarios (``insiders``, :mod:`leaktrace.synth.scenarios`) when asked for.

Every file is written beside its target and renamed when complete, so an interrupted run leaves
no half file. The access log and the applications are written in one pass over the days.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from queue import Queue
from typing import Any

import pyarrow as pa

from leaktrace.exceptions import ConfigError
from leaktrace.synth.access import (
    ACCESS_SCHEMA,
    APPLICATION_SCHEMA,
    LABEL_FIELD,
    Scenario,
    activity_batches,
    expected_events,
)
from leaktrace.synth.customer import write_customers
from leaktrace.synth.institution import (
    BRANCH_SCHEMA,
    PORTFOLIO_SCHEMA,
    STAFF_SCHEMA,
    START,
    Institution,
    institution,
)
from leaktrace.synth.scenarios import TRUTH_SCHEMA, Plan, plant

FORMATS = ("csv", "parquet")
# Columns whose values repeat: dictionary pages pay there and only there.
_REPEATING = {"branch_code", "terminal", "ip", "staff_id", "system", "action", "level",
              "province", "city", "role", "product", "label"}  # fmt: skip

Progress = Callable[[str, int, int], object]


class _Sink:
    """One output file: written to ``.name.partial``, renamed by :meth:`commit`."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: str) -> None:
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.rows = 0
        if file_format == "csv":
            self.writer: Any = pa_csv.CSVWriter(self.partial, schema)
        else:
            dictionary = [f.name for f in schema if f.name in _REPEATING]
            # Statistics where readers prune by them (ids, times, dates); on strings they cost
            # a fifth of the writing time and prune little.
            statistics = [f.name for f in schema if not pa.types.is_string(f.type)]
            self.writer = pq.ParquetWriter(
                self.partial,
                schema,
                compression="zstd",
                use_dictionary=dictionary,
                write_statistics=statistics,
            )

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def commit(self) -> None:
        self.writer.close()
        self.partial.replace(self.path)

    def discard(self) -> None:
        self.writer.close()
        self.partial.unlink(missing_ok=True)


def _write(
    path: Path, schema: pa.Schema, file_format: str, batches: Iterable[pa.RecordBatch]
) -> int:
    sink = _Sink(path, schema, file_format)
    try:
        for batch in batches:
            sink.write(batch)
        sink.commit()
    except BaseException:
        sink.discard()
        raise
    return sink.rows


def _write_behind(batches: Iterable[tuple[str, pa.RecordBatch]], sinks: dict[str, _Sink]) -> None:
    """Write ``(sink name, batch)`` pairs in a second thread while the next batch is drawn
    (Parquet encoding and NumPy both release the GIL); at most two batches wait."""
    queue: Queue[tuple[str, pa.RecordBatch] | None] = Queue(maxsize=2)
    failure: list[BaseException] = []

    def drain() -> None:
        try:
            while (item := queue.get()) is not None:
                if not failure:
                    sinks[item[0]].write(item[1])
        except BaseException as error:  # handed to the producer, which re-raises it
            failure.append(error)
            while queue.get() is not None:  # keep the producer from blocking
                pass

    writer = threading.Thread(target=drain, name="synth-writer", daemon=True)
    writer.start()
    try:
        for item in batches:
            if failure:
                break
            queue.put(item)
    finally:
        queue.put(None)
        writer.join()
    if failure:
        raise failure[0]


def _check_format(file_format: str) -> None:
    if file_format not in FORMATS:
        raise ConfigError(f"Unknown format {file_format!r}; choose csv or parquet.")


# The files write_institution writes (each as .csv or .parquet).
INSTITUTION_FILES = (
    "customers", "branches", "staff", "portfolios", "applications", "access_log", "insiders",
)  # fmt: skip


def write_tables(
    world: Institution,
    directory: str | Path,
    *,
    file_format: str = "csv",
    batch_rows: int = 500_000,
) -> dict[str, dict[str, Any]]:
    """Write ``branches``, ``staff`` and ``portfolios`` of ``world`` into ``directory``;
    returns ``{name: {"path": ..., "rows": ...}}``."""
    _check_format(file_format)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = {
        "branches": (BRANCH_SCHEMA, world.branches.to_batches()),
        "staff": (STAFF_SCHEMA, world.staff.to_batches()),
        "portfolios": (PORTFOLIO_SCHEMA, world.portfolio_batches(batch_rows)),
    }
    written = {}
    for name, (schema, batches) in tables.items():
        path = directory / f"{name}.{file_format}"
        written[name] = {"path": str(path), "rows": _write(path, schema, file_format, batches)}
    return written


def write_activity(
    world: Institution,
    directory: str | Path,
    *,
    file_format: str = "csv",
    scale: float = 1.0,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
    batch_rows: int = 500_000,
    on_day: Callable[[int], object] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write ``access_log`` and ``applications`` of ``world`` into ``directory`` in one pass
    over the days (arguments as for :func:`~leaktrace.synth.access.activity_batches`);
    returns ``{name: {"path": ..., "rows": ...}}``."""
    _check_format(file_format)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    extra = [LABEL_FIELD] if labels else []
    paths = {
        "access": directory / f"access_log.{file_format}",
        "applications": directory / f"applications.{file_format}",
    }
    with ExitStack() as stack:
        sinks = {
            "access": _Sink(paths["access"], pa.schema([*ACCESS_SCHEMA, *extra]), file_format),
            "applications": _Sink(
                paths["applications"], pa.schema([*APPLICATION_SCHEMA, *extra]), file_format
            ),
        }
        for sink in sinks.values():
            stack.callback(sink.discard)
        batches = activity_batches(
            world,
            batch_rows=batch_rows,
            scale=scale,
            scenarios=scenarios,
            labels=labels,
            on_day=on_day,
        )
        _write_behind(batches, sinks)
        stack.pop_all()
        for sink in sinks.values():
            sink.commit()
    return {
        "applications": {"path": str(paths["applications"]), "rows": sinks["applications"].rows},
        "access_log": {"path": str(paths["access"]), "rows": sinks["access"].rows},
    }


def write_insiders(
    plan: Plan, directory: str | Path, *, file_format: str = "csv"
) -> dict[str, dict[str, Any]]:
    """Write the ground truth of ``plan`` (:data:`~leaktrace.synth.scenarios.TRUTH_SCHEMA`) as
    ``insiders.csv`` or ``insiders.parquet`` into ``directory``; returns
    ``{"insiders": {"path": ..., "rows": ...}}``."""
    _check_format(file_format)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"insiders.{file_format}"
    rows = _write(path, TRUTH_SCHEMA, file_format, plan.truth.to_batches())
    return {"insiders": {"path": str(path), "rows": rows}}


def _same_world(planted: Institution, world: Institution) -> bool:
    """Whether a plan was made for the institution these arguments describe (its leave dates
    may differ: the plan moves some)."""
    return (planted.kind, planted.seed, planted.customers, planted.start, planted.days) == (
        world.kind,
        world.seed,
        world.customers,
        world.start,
        world.days,
    ) and planted.staff.num_rows == world.staff.num_rows


def write_institution(
    directory: str | Path,
    customers: int = 5_000,
    *,
    staff: int | None = None,
    days: int = 30,
    start: datetime.date = START,
    seed: int = 0,
    kind: str = "bank",
    file_format: str = "csv",
    remarks: bool = True,
    events: int | None = None,
    scenarios: Sequence[Scenario] = (),
    labels: bool = False,
    insiders: bool | Plan = False,
    batch_rows: int = 500_000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a whole synthetic institution into ``directory`` and return a summary.

    Files (never over existing ones: :class:`ConfigError`): ``customers`` (as of the day before
    ``start``; CSV with Chinese headers, as exported registers have), ``branches``, ``staff``,
    ``portfolios``, ``applications`` and ``access_log`` (``.csv`` or ``.parquet``). ``events``
    sets the workload so that the access log holds about that many events (by default the
    roles' normal workload). ``progress`` is called as ``progress(stage, done, total)`` with
    stage ``"customers"`` (rows) or ``"access"`` (days).

    ``insiders`` plants insider scenarios and legitimately busy colleagues: True for
    :func:`~leaktrace.synth.scenarios.plant` with the default counts and ``seed``, or a
    :class:`~leaktrace.synth.scenarios.Plan` made for the institution these arguments describe.
    The staff file then holds the plan's leave dates, and ``insiders`` (same format) the ground
    truth; ``labels`` adds each event's label code to the access log and applications.
    """
    _check_format(file_format)
    if events is not None and events < 1:
        raise ConfigError("The number of events must be positive.")
    directory = Path(directory)
    for name in INSTITUTION_FILES:
        taken = directory / f"{name}.{file_format}"
        if taken.exists():  # perhaps not synthetic: a folder of real exports
            raise ConfigError(f"{taken} exists; synth never overwrites files. Choose a new folder.")
    world = institution(customers, staff, seed, kind=kind, start=start, days=days)
    scale = 1.0 if events is None else events / expected_events(world)
    plan = None
    if isinstance(insiders, Plan):
        if not _same_world(insiders.world, world):
            raise ConfigError(
                "The plan was made for another institution: plant it in the one that "
                "customers, staff, days, start, seed and kind describe."
            )
        plan = insiders
    elif insiders:
        plan = plant(world, seed=seed)
    if plan is not None:
        world = plan.world
        scenarios = (*plan.scenarios, *scenarios)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"customers.{file_format}"
    done = 0

    def customer_progress(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress("customers", done, customers)

    write_customers(
        path,
        customers,
        seed,
        kind=kind,
        format=file_format,
        as_of=start - datetime.timedelta(days=1),
        remarks=remarks,
        header="zh" if file_format == "csv" else "en",
        progress=customer_progress,
    )
    files = {"customers": {"path": str(path), "rows": customers}}
    files |= write_tables(world, directory, file_format=file_format, batch_rows=batch_rows)
    files |= write_activity(
        world,
        directory,
        file_format=file_format,
        scale=scale,
        scenarios=scenarios,
        labels=labels,
        batch_rows=batch_rows,
        on_day=None if progress is None else lambda day: progress("access", day, days),
    )
    if plan is not None:
        files |= write_insiders(plan, directory, file_format=file_format)
    return {
        "directory": str(directory),
        "kind": kind,
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "format": file_format,
        "files": files,
    }
