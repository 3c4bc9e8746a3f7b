"""Synthetic institution (合成机构数据) for leaktrace's demo, tests and benchmarks.

A bank, insurer, consumer lender or education agency made of seeded random draws, never of a
real person's record:

- customers (:func:`customers`, :func:`customer_batches`, :func:`write_customers`) with
  checksum-valid identifiers and free-text remarks with ground truth (:func:`remarks`) —
  :mod:`leaktrace.synth.customer`;
- branches, staff with roles and employment dates, customer managers' portfolios
  (:func:`institution`) — :mod:`leaktrace.synth.institution`;
- loan applications and access logs with realistic workloads, streamed day by day
  (:func:`access_days`, :func:`access_batches`), with hooks for planted insider scenarios —
  :mod:`leaktrace.synth.access`;
- planted insider scenarios and legitimately busy colleagues with ground truth (:func:`plant`,
  :class:`Plan`) — :mod:`leaktrace.synth.scenarios`;
- all of it written to a folder (:func:`write_institution`; the parts: :func:`write_customers`,
  :func:`write_tables`, :func:`write_activity`, :func:`write_insiders`) —
  :mod:`leaktrace.synth.files`.
"""

from leaktrace.synth.access import (
    ACCESS_SCHEMA,
    ACTIONS,
    APPLICATION_SCHEMA,
    REFERENCES,
    SYSTEMS,
    Applications,
    DayContext,
    DayWork,
    Events,
    Scenario,
    access_batches,
    access_days,
    access_log,
    applications,
    expected_events,
    make_events,
)
from leaktrace.synth.customer import (
    AS_OF,
    BLOCK_ROWS,
    COLUMN_LABELS,
    INSTITUTIONS,
    KINDS,
    Remark,
    Truth,
    _read_tsv,
    customer_batches,
    customer_schema,
    customers,
    remark,
    remarks,
    remarks_table,
    surname_shares,
    write_customers,
)
from leaktrace.synth.files import write_activity, write_insiders, write_institution, write_tables
from leaktrace.synth.institution import (
    BRANCH_SCHEMA,
    LEVELS,
    PORTFOLIO_SCHEMA,
    ROLE_LABELS,
    ROLES,
    STAFF_SCHEMA,
    START,
    Institution,
    customer_ids,
    default_staff,
    institution,
)
from leaktrace.synth.scenarios import (
    BENIGN_SCENARIOS,
    INSIDER_SCENARIOS,
    LABEL_CODES,
    TRUTH_SCHEMA,
    Plan,
    plant,
)

__all__ = [
    "ACCESS_SCHEMA",
    "ACTIONS",
    "APPLICATION_SCHEMA",
    "AS_OF",
    "BENIGN_SCENARIOS",
    "BLOCK_ROWS",
    "BRANCH_SCHEMA",
    "COLUMN_LABELS",
    "INSIDER_SCENARIOS",
    "INSTITUTIONS",
    "KINDS",
    "LABEL_CODES",
    "LEVELS",
    "PORTFOLIO_SCHEMA",
    "REFERENCES",
    "ROLES",
    "ROLE_LABELS",
    "STAFF_SCHEMA",
    "START",
    "SYSTEMS",
    "TRUTH_SCHEMA",
    "Applications",
    "DayContext",
    "DayWork",
    "Events",
    "Institution",
    "Plan",
    "Remark",
    "Scenario",
    "Truth",
    "_read_tsv",
    "access_batches",
    "access_days",
    "access_log",
    "applications",
    "customer_batches",
    "customer_ids",
    "customer_schema",
    "customers",
    "default_staff",
    "expected_events",
    "institution",
    "make_events",
    "plant",
    "remark",
    "remarks",
    "remarks_table",
    "surname_shares",
    "write_activity",
    "write_customers",
    "write_insiders",
    "write_institution",
    "write_tables",
]
