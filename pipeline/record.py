"""The run record: one row of the `runs` table per night, succeeded or not.

The night fills it from the values its steps return (pipeline/night.py); no
step reads it. Which run is "current" (the last succeeded one, with the table
versions it committed) is read back from the same table: adapters/lake.py
`succeeded_run` and `committed_table`.
"""
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from pipeline import about
from schemas import names as n
from schemas.tables import RUNS

MASTER_DATA = (n.PLANTS, n.PARTS, n.VEHICLE_MODELS, n.BOM_ITEMS)   # copied into the lake by each successful run
PEGGING = (n.ORDER_SIGNATURES, n.SIGNATURES)   # which orders make up a demand (transforms/pegging.py)
COMMITTED = (n.PART_DEMAND, n.DEMAND_SUMMARY, *PEGGING, *MASTER_DATA)   # what a night commits, in this order;
# its runs row records each one's version; restore, repair and maintain work on exactly these


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class RunRecord:
    run_id: str
    run_date: date
    source: str
    lake: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = n.FAILED
    orders_read: int | None = None
    configurations: int | None = None       # variant signatures exploded (the column keeps its first name)
    levels: int | None = None
    part_demand_rows: int | None = None
    demand_summary_rows: int | None = None
    quarantine_rows: int | None = None
    parts_with_demand: int | None = None
    gate_result: str | None = None
    blocked: dict = field(default_factory=dict)
    carried_rows: int | None = None
    reconciliation: dict = field(default_factory=dict)
    quarantine_by_reason: dict = field(default_factory=dict)
    validation_docs: str | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    config_sha256: str | None = None        # pipeline.config.fingerprint of the settings the night ran with
    bomflow_version: str = field(default_factory=about.version)
    git_revision: str | None = field(default_factory=about.git_revision)

    def runs_row(self) -> tuple:
        values = {**asdict(self), "source_path": self.source, "published_collection": None, "publish_status": None,
                  "metrics_json": json.dumps({**self.metrics, "quarantine_by_reason": self.quarantine_by_reason},
                                             default=str),
                  "blocked_models": json.dumps(self.blocked) if self.blocked else None,
                  "reconciliation_json": json.dumps(self.reconciliation)}
        return tuple(values[f.name] for f in RUNS.fields)


def summary_lines(record: RunRecord) -> list[str]:
    """What `bomflow run` prints at the end of a night."""
    saved = 1 - record.configurations / record.orders_read if record.orders_read else 0
    plan = record.metrics.get("plan", {})
    scope = record.metrics.get("scope")
    lines = [
        f"run {record.run_id}: {record.status} in {record.metrics['total_seconds']:.1f} s",
        *([f"  partial run          plants {','.join(scope['plants']) or '(all)'} x models "
           f"{','.join(scope['models']) or '(all)'} (only this slice of part_demand was replaced)"] if scope else []),
        f"  orders read          {record.orders_read:>10,}",
        f"  variant signatures   {record.configurations:>10,}  ({saved:.0%} fewer explosions than orders)",
        f"  explosion levels     {record.levels:>10,}",
        f"  plan rows exploded   {plan.get('rows_exploded', 0):>10,}  ({plan.get('rows_covered_by_orders', 0)} more "
        f"left to orders by the horizon rule)",
        f"  parts with demand    {record.parts_with_demand:>10,}",
        f"  part_demand rows     {record.part_demand_rows:>10,}",
        f"  demand_summary rows  {record.demand_summary_rows:>10,}",
        f"  quarantined rows     {record.quarantine_rows:>10,}",
    ]
    if record.metrics.get("exceptions"):
        lines.append("  exceptions           " + ", ".join(f"{kind} {count}" for kind, count in
                                                     sorted(record.metrics["exceptions"].items()))
                     + "  (bomflow exceptions --lake …)")
    for table, reasons in sorted(record.quarantine_by_reason.items()):
        lines.append(f"    {table}: " + ", ".join(f"{reason} {rows}" for reason, rows in sorted(reasons.items())))
    for model, cause in sorted(record.blocked.items()):
        lines.append(f"  WARNING: BLOCKED {cause}; no new demand for {model}, "
                     f"{'its last good demand is carried (stale)' if record.carried_rows else 'nothing to carry'}")
    if record.carried_rows:
        lines.append(f"  carried rows         {record.carried_rows:>10,}  (part_demand.carried_from_run_id is set)")
    lines += [f"  gates                {record.gate_result:>10}",
              f"  validation docs      {record.validation_docs}",
              f"  lake                 {record.lake}  (tables: {n.PART_DEMAND}, {n.DEMAND_SUMMARY}, {n.QUARANTINE}, "
              f"{n.EXCEPTIONS}, {n.RUNS})"]
    return lines
