"""The nightly demand job: read -> validate -> quarantine -> input gate -> explode -> stage -> output gate -> commit.

    spark-submit jobs/nightly_demand.py --source DIR --lake DIR [--conf FILE] [--run-date D]

does the same as `bomflow run` (which calls execute() below). Outputs are written
to LAKE/_staging/<run_id>/ first and committed to part_demand and demand_summary
only after the output gate passed, so a failed run leaves the last good state.
"""
import argparse
import json
import logging
import secrets
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake as lk
from jobs import settings as st
from jobs.errors import BomflowError
from jobs.faults import failpoint
from jobs.gates import GateResult, Gates, week_start_view
from schemas import names as n
from schemas.tables import QUARANTINE, RUNS
from transforms.checks import plant_drift, summary_total_mismatches, uncovered_plant_models
from transforms.demand import carried_demand
from transforms.engine import OrderDemand, Screened, explode_screened, screen
from transforms.scope import Scope, restrict
from transforms.summary import demand_summary

log = logging.getLogger("bomflow.nightly")
MASTER_DATA = (n.PLANTS, n.PARTS)   # copied into the lake by each successful run (used rows)
CONSUMED = (n.PLANTS, n.VEHICLE_MODELS, n.PARTS, n.BOM_ITEMS, n.PRODUCTION_ORDERS, n.VOLUME_PLAN, n.OPTION_TAKE_RATES)


class GateFailed(BomflowError):
    """A validation gate failed: the run committed nothing."""


@dataclass
class RunReport:
    run_id: str
    run_date: date
    source: str
    lake: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = n.FAILED
    orders_read: int | None = None
    configurations: int | None = None
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

    def runs_row(self) -> tuple:
        values = {**asdict(self), "source_path": self.source, "published_collection": None, "publish_status": None,
                  "metrics_json": json.dumps(self.metrics, default=str),
                  "blocked_models": json.dumps(self.blocked) if self.blocked else None,
                  "reconciliation_json": json.dumps(self.reconciliation)}
        return tuple(values[f.name] for f in RUNS.fields)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class _Timer:
    def __init__(self, report: RunReport):
        self.steps = report.metrics.setdefault("step_seconds", {})
        self.started = time.monotonic()

    def done(self, name: str) -> None:
        self.steps[name] = round(time.monotonic() - self.started, 3)
        log.info("event=step_done step=%s seconds=%.3f", name, self.steps[name])
        self.started = time.monotonic()


def reconcile(tables: dict[str, DataFrame], screened: Screened, report: RunReport) -> dict[str, dict]:
    """Per consumed table: rows read, rows used, rows quarantined (each counted on its own).

    The quarantined counts come from report.quarantine_by_reason (count_quarantine runs first).
    """
    return {t: {"read": tables[t].count(), "used": screened.used[t].count(),
                "quarantined": sum(report.quarantine_by_reason.get(t, {}).values())}
            for t in CONSUMED}


def input_gate(gates: Gates, tables: dict[str, DataFrame], screened: Screened, report: RunReport,
               max_pct: float) -> GateResult:
    gate = GateResult("input")
    for table, c in report.reconciliation.items():
        gate.checks += 2
        if c["read"] != c["used"] + c["quarantined"]:
            gate.fail(f"{table}: {c['read']} rows read != {c['used']} used + {c['quarantined']} quarantined")
        own = report.quarantine_by_reason.get(table, {})
        own_defects = sum(rows for reason, rows in own.items() if reason != n.MODEL_BLOCKED)
        if c["read"] and own_defects / c["read"] * 100 > max_pct:
            gate.fail(f"{table}: {own_defects / c['read']:.1%} of rows quarantined for their own defects "
                      f"(threshold {max_pct} %)")
    gates.run_suites("input", tables, gate, mostly=1 - max_pct / 100, refs=screened.used)
    return gate


def output_gate(gates: Gates, staged: DataFrame, summarised: DataFrame, summary: DataFrame, result: OrderDemand,
                previous: DataFrame | None, max_drift_pct: float | None) -> GateResult:
    """staged: the run's new part_demand rows; summarised: the part_demand rows its summary was built from
    (the same, or for a partial run also the kept rows of the plants it touched)."""
    gate = GateResult("output")
    gates.run_suites("output", {n.PART_DEMAND: staged, n.DEMAND_SUMMARY: week_start_view(summary)}, gate)
    gate.checks += 3
    mismatches = summary_total_mismatches(summarised, summary).limit(5).collect()
    if mismatches:
        gate.fail(f"demand_summary totals differ from part_demand, e.g. {[tuple(r) for r in mismatches[:3]]}")
    uncovered = uncovered_plant_models(staged, result.used[n.PRODUCTION_ORDERS]).collect()
    if uncovered:
        gate.fail(f"(plant, model) with orders but no demand: {[tuple(r) for r in uncovered]}")
    if previous is not None and max_drift_pct is not None:
        drifted = plant_drift(staged, previous, max_drift_pct).collect()
        for r in drifted:
            gate.fail(f"plant {r.plant_id}: total {r.source} demand changed by {r.change_pct:+.1f} % against the previous run "
                      f"(threshold {max_drift_pct} %)")
    return gate


def previous_demand(spark: SparkSession, lake: str) -> DataFrame | None:
    path = Path(lk.table_path(lake, n.PART_DEMAND))
    return spark.read.format("delta").load(str(path)) if (path / "_delta_log").is_dir() else None


def count_quarantine(problems: DataFrame, report: RunReport) -> None:
    by = problems.groupBy("table_name", "reason").count().collect()
    report.quarantine_by_reason = {}
    for r in by:
        report.quarantine_by_reason.setdefault(r.table_name, {})[r.reason] = r["count"]
    report.quarantine_rows = sum(r["count"] for r in by)


def write_quarantine(problems: DataFrame, report: RunReport) -> None:
    rows = problems.select(F.lit(report.run_id).alias(n.RUN_ID), "*")
    lk.write_table(rows.select(*[F.col(f.name).cast(f.dataType) for f in QUARANTINE.fields]),
                   report.lake, n.QUARANTINE, mode="append")
    count_quarantine(problems, report)


def summarised_rows(staged: DataFrame, previous: DataFrame | None, scope: Scope, run_id: str) -> DataFrame:
    """The part_demand rows demand_summary is rebuilt from: the new ones, plus for a partial run the kept rows
    (other models) of the plants it touches. The summary is stamped with this run's id."""
    rows = staged
    if not scope.full and previous is not None:
        rows = rows.unionByName(previous.where(scope.predicate(plants_only=True) & ~scope.predicate()))
    return rows.withColumn(n.RUN_ID, F.lit(run_id))


def stage_and_commit(spark: SparkSession, settings: dict, gates: Gates, result: OrderDemand,
                     report: RunReport, timer: _Timer, scope: Scope = Scope()) -> None:
    previous = previous_demand(spark, report.lake)
    mine = previous.where(scope.predicate()) if previous is not None else None   # the slice this run replaces
    demand = result.part_demand
    if result.blocked and previous is not None:
        demand = demand.unionByName(carried_demand(mine, sorted(result.blocked), report.run_id))
    staging = Path(report.lake) / "_staging" / report.run_id
    lk.write_table(demand, str(staging), n.PART_DEMAND, partition_by=(n.PLANT_ID, n.MODEL_ID))
    staged = spark.read.format("delta").load(str(staging / n.PART_DEMAND))
    summarised = summarised_rows(staged, previous, scope, report.run_id)
    lk.write_table(demand_summary(summarised), str(staging), n.DEMAND_SUMMARY)
    summary = spark.read.format("delta").load(str(staging / n.DEMAND_SUMMARY))
    timer.done("stage")

    gate = output_gate(gates, staged, summarised, summary, result, mine, settings["gates"].get("max_plant_drift_pct"))
    report.metrics["output_gate"] = asdict(gate)
    timer.done("output_gate")
    if not gate.passed:
        report.gate_result = "failed: output"
        raise GateFailed("output gate failed, nothing committed:\n  " + "\n  ".join(gate.failures))

    failpoint("before_commit")
    partial = not scope.full and previous is not None
    lk.write_table(staged, report.lake, n.PART_DEMAND, partition_by=(n.PLANT_ID, n.MODEL_ID),
                   replace_where=scope.sql() if partial else None)
    failpoint("between_commits")
    lk.write_table(summary, report.lake, n.DEMAND_SUMMARY,
                   replace_where=scope.sql(plants_only=True) if partial and scope.plants else None)
    for table in MASTER_DATA:   # what the exports need beside the demand: plant sites, part descriptions
        lk.write_table(result.used[table], report.lake, table)
    report.metrics["committed_versions"] = {t: lk.table_version(spark, report.lake, t)
                                            for t in (n.PART_DEMAND, n.DEMAND_SUMMARY, *MASTER_DATA)}
    timer.done("commit")
    stats = staged.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(n.PART_ID).alias("parts"),
                       F.count(n.CARRIED_FROM_RUN_ID).alias("carried")).first()
    report.part_demand_rows, report.parts_with_demand, report.carried_rows = stats["rows"], stats["parts"], stats["carried"]
    report.demand_summary_rows = summary.count()
    shutil.rmtree(staging, ignore_errors=True)


def check_scope(tables: dict[str, DataFrame], scope: Scope) -> None:
    for flag, table, column, wanted in (("--plants", n.PLANTS, n.PLANT_ID, scope.plants),
                                        ("--models", n.VEHICLE_MODELS, n.MODEL_ID, scope.models)):
        if wanted:
            known = {r[0] for r in tables[table].select(column).collect()}
            if set(wanted) - known:
                raise BomflowError(f"{flag}: {', '.join(sorted(set(wanted) - known))} not in the "
                                   f"source's {table} (it has {', '.join(sorted(known)[:20])})")


def execute_run(spark: SparkSession, settings: dict, report: RunReport, scope: Scope = Scope()) -> None:
    timer = _Timer(report)
    tables = lk.read_source(spark, report.source)
    if not scope.full:
        check_scope(tables, scope)
        tables = restrict(tables, scope)
        report.metrics["scope"] = {"plants": list(scope.plants), "models": list(scope.models)}
        log.info("event=partial_run scope=%r", scope.describe())
    engine = settings["engine"]
    screened = screen(tables, int(engine["max_rule_terms"]))
    report.blocked = screened.blocked
    timer.done("read_validate")

    write_quarantine(screened.problems, report)
    report.reconciliation = reconcile(tables, screened, report)
    report.orders_read = report.reconciliation[n.PRODUCTION_ORDERS]["read"]
    docs_root = Path(report.lake) / "_validation" / report.run_id
    gates = Gates(docs_root)
    gate = input_gate(gates, tables, screened, report, float(settings["gates"]["max_quarantined_pct"]))
    report.validation_docs = gates.docs_index()
    report.metrics["input_gate"] = asdict(gate)
    timer.done("input_gate")
    if not gate.passed:
        report.gate_result = "failed: input"
        raise GateFailed("input gate failed, nothing committed:\n  " + "\n  ".join(gate.failures))

    result = explode_screened(screened, report.run_id, int(engine["max_depth"]))
    report.configurations, report.levels = result.signatures, len(result.levels)
    report.metrics["signatures"] = {"exploded": result.signatures, "dated": result.dated_signatures}
    report.metrics["levels"] = [asdict(level) for level in result.levels]
    report.metrics["plan"] = {"rows_exploded": result.plan_rows, "rows_covered_by_orders": result.plan_rows_covered,
                              "levels": [asdict(level) for level in result.plan_levels]}
    timer.done("explode")

    stage_and_commit(spark, settings, gates, result, report, timer, scope)
    report.gate_result = n.PASSED
    report.status = n.SUCCEEDED


def append_run(spark: SparkSession, report: RunReport) -> None:
    lk.write_table(spark.createDataFrame([report.runs_row()], RUNS), report.lake, n.RUNS, mode="append")


def run(spark: SparkSession, settings: dict, source: str, lake: str,
        run_date: date | None = None, run_id: str | None = None, scope: Scope = Scope()) -> RunReport:
    """One nightly run; appends its row to `runs` whether it succeeds or fails."""
    now = datetime.now(timezone.utc)
    report = RunReport(run_id=run_id or new_run_id(now), run_date=run_date or now.date(),
                       source=source, lake=lake, started_at=now)
    log.info("event=run_started run_id=%s source=%s lake=%s", report.run_id, source, lake)
    try:
        execute_run(spark, settings, report, scope)
    except Exception as err:  # recorded in runs, then re-raised for the caller's exit code
        report.error = str(err).splitlines()[0][:500]
        raise
    finally:
        report.finished_at = datetime.now(timezone.utc)
        report.metrics["total_seconds"] = round((report.finished_at - report.started_at).total_seconds(), 3)
        try:
            append_run(spark, report)
        except Exception as err:  # the lake itself may be unwritable: say so, keep the first error
            log.error("event=runs_append_failed error=%s", str(err).splitlines()[0])
        log.info("event=run_finished run_id=%s status=%s seconds=%s", report.run_id, report.status,
                 report.metrics["total_seconds"])
    return report


def summary_lines(report: RunReport) -> list[str]:
    saved = 1 - report.configurations / report.orders_read if report.orders_read else 0
    plan = report.metrics.get("plan", {})
    lines = [
        f"run {report.run_id}: {report.status} in {report.metrics['total_seconds']:.1f} s",
        *([f"  partial run          plants {','.join(sc['plants']) or '(all)'} x models {','.join(sc['models']) or '(all)'}"
           f" (only this slice of part_demand was replaced)"] if (sc := report.metrics.get("scope")) else []),
        f"  orders read          {report.orders_read:>10,}",
        f"  variant signatures   {report.configurations:>10,}  ({saved:.0%} fewer explosions than orders)",
        f"  explosion levels     {report.levels:>10,}",
        f"  plan rows exploded   {plan.get('rows_exploded', 0):>10,}  ({plan.get('rows_covered_by_orders', 0)} more "
        f"left to orders by the horizon rule)",
        f"  parts with demand    {report.parts_with_demand:>10,}",
        f"  part_demand rows     {report.part_demand_rows:>10,}",
        f"  demand_summary rows  {report.demand_summary_rows:>10,}",
        f"  quarantined rows     {report.quarantine_rows:>10,}",
    ]
    for table, reasons in sorted(report.quarantine_by_reason.items()):
        lines.append(f"    {table}: " + ", ".join(f"{reason} {rows}" for reason, rows in sorted(reasons.items())))
    for model, cause in sorted(report.blocked.items()):
        lines.append(f"  WARNING: BLOCKED {cause}; no new demand for {model}, "
                     f"{'its last good demand is carried (stale)' if report.carried_rows else 'nothing to carry'}")
    if report.carried_rows:
        lines.append(f"  carried rows         {report.carried_rows:>10,}  (part_demand.carried_from_run_id is set)")
    lines += [f"  gates                {report.gate_result:>10}",
              f"  validation docs      {report.validation_docs}",
              f"  lake                 {report.lake}  (tables: {n.PART_DEMAND}, {n.DEMAND_SUMMARY}, {n.QUARANTINE}, {n.RUNS})"]
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder with one sub-folder per input table")
    parser.add_argument("--lake", required=True, help="folder of the Delta lake to write")
    parser.add_argument("--conf", help="extra YAML laid over conf/base.yaml + conf/$BOMFLOW_ENV.yaml")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
    parser.add_argument("--run-date", type=date.fromisoformat, help="the run's date, YYYY-MM-DD (default today, UTC)")
    parser.add_argument("--plants", help="comma-separated plant ids: recompute only these plants' partitions")
    parser.add_argument("--models", help="comma-separated model ids: recompute only these models' partitions")


def execute(args: argparse.Namespace) -> RunReport:
    settings = st.load(args.env, args.conf)
    st.configure_logging(settings)
    try:
        scope = Scope.parse(args.plants, args.models)
    except ValueError as err:
        raise BomflowError(str(err)) from None
    spark = st.spark_session(settings)
    report = run(spark, settings, args.source, args.lake, args.run_date, scope=scope)
    print("\n".join(summary_lines(report)))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nightly_demand", description=__doc__.splitlines()[0])
    add_arguments(parser)
    from jobs.cli import guarded
    return guarded(lambda: execute(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
