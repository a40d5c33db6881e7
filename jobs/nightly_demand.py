"""The nightly demand job: read -> validate -> explode -> summarise -> write.

    spark-submit jobs/nightly_demand.py --source DIR --lake DIR [--conf FILE] [--run-date D]

does the same as `bomflow run` (which calls main() below).
"""
import argparse
import json
import logging
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lake as lk
from jobs import settings as st
from jobs.errors import BomflowError
from schemas import names as n
from schemas.tables import RUNS
from transforms.engine import order_demand
from transforms.summary import demand_summary

log = logging.getLogger("bomflow.nightly")


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
    parts_with_demand: int | None = None
    error: str | None = None
    metrics: dict = field(default_factory=dict)

    def runs_row(self) -> tuple:
        values = {"source_path": self.source, "quarantine_rows": 0, "gate_result": None,
                  "published_collection": None, "metrics_json": json.dumps(self.metrics, default=str),
                  **asdict(self)}
        return tuple(values[f.name] for f in RUNS.fields)


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class _Timer:
    def __init__(self, report: RunReport):
        self.report, self.steps = report, report.metrics.setdefault("step_seconds", {})

    def step(self, name: str, started: float) -> None:
        self.steps[name] = round(time.monotonic() - started, 3)
        log.info("event=step_done step=%s seconds=%.3f", name, self.steps[name])


def describe_problems(problems: DataFrame, examples: int = 3) -> str:
    """One line per (table, reason) with its count and a few row keys."""
    rows = (problems.groupBy("table_name", "reason")
            .agg(F.count(F.lit(1)).alias("rows"), F.slice(F.array_sort(F.collect_set("row_key")), 1, examples).alias("keys"),
                 F.first("detail").alias("detail"))
            .orderBy("table_name", "reason").collect())
    return "\n  ".join(f"{r.table_name}: {r.rows} row(s) {r.reason} (e.g. {', '.join(r['keys'])}: {r.detail})" for r in rows)


def compute(spark: SparkSession, settings: dict, report: RunReport) -> DataFrame:
    """Source -> part_demand (not yet written). Fails closed on any contract violation."""
    engine, timer = settings["engine"], _Timer(report)
    started = time.monotonic()
    tables = lk.read_source(spark, report.source)
    result = order_demand(tables, report.run_id, int(engine["max_depth"]), int(engine["max_rule_terms"]))
    problems = result.problems.localCheckpoint()
    if not problems.isEmpty():
        raise BomflowError("input rows break the data contract (quarantine comes with the gates issue); "
                           "nothing was written:\n  " + describe_problems(problems))
    report.orders_read, report.configurations = result.orders, result.configurations
    report.levels = len(result.levels)
    report.metrics["levels"] = [asdict(level) for level in result.levels]
    timer.step("read_validate_explode", started)
    return result.part_demand


def write_outputs(spark: SparkSession, demand: DataFrame, report: RunReport) -> None:
    timer, started = _Timer(report), time.monotonic()
    lk.write_table(demand, report.lake, n.PART_DEMAND, partition_by=(n.PLANT_ID, n.MODEL_ID))
    written = spark.read.format("delta").load(lk.table_path(report.lake, n.PART_DEMAND))
    timer.step("write_part_demand", started)
    started = time.monotonic()
    lk.write_table(demand_summary(written), report.lake, n.DEMAND_SUMMARY)
    timer.step("write_demand_summary", started)
    stats = written.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(n.PART_ID).alias("parts")).first()
    report.part_demand_rows, report.parts_with_demand = stats["rows"], stats["parts"]
    report.demand_summary_rows = spark.read.format("delta").load(lk.table_path(report.lake, n.DEMAND_SUMMARY)).count()


def append_run(spark: SparkSession, report: RunReport) -> None:
    lk.write_table(spark.createDataFrame([report.runs_row()], RUNS), report.lake, n.RUNS, mode="append")


def run(spark: SparkSession, settings: dict, source: str, lake: str,
        run_date: date | None = None, run_id: str | None = None) -> RunReport:
    """One nightly run; appends its row to `runs` whether it succeeds or fails."""
    now = datetime.now(timezone.utc)
    report = RunReport(run_id=run_id or new_run_id(now), run_date=run_date or now.date(),
                       source=source, lake=lake, started_at=now)
    log.info("event=run_started run_id=%s source=%s lake=%s", report.run_id, source, lake)
    try:
        demand = compute(spark, settings, report)
        write_outputs(spark, demand, report)
        report.status = n.SUCCEEDED
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
    return [
        f"run {report.run_id}: {report.status} in {report.metrics['total_seconds']:.1f} s",
        f"  orders read          {report.orders_read:>10,}",
        f"  configurations       {report.configurations:>10,}  ({saved:.0%} fewer explosions than orders)",
        f"  explosion levels     {report.levels:>10,}",
        f"  parts with demand    {report.parts_with_demand:>10,}",
        f"  part_demand rows     {report.part_demand_rows:>10,}",
        f"  demand_summary rows  {report.demand_summary_rows:>10,}",
        f"  lake                 {report.lake}  (tables: {n.PART_DEMAND}, {n.DEMAND_SUMMARY}, {n.RUNS})",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder with one sub-folder per input table")
    parser.add_argument("--lake", required=True, help="folder of the Delta lake to write")
    parser.add_argument("--conf", help="extra YAML laid over conf/base.yaml + conf/$BOMFLOW_ENV.yaml")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
    parser.add_argument("--run-date", type=date.fromisoformat, help="the run's date, YYYY-MM-DD (default today, UTC)")


def execute(args: argparse.Namespace) -> RunReport:
    settings = st.load(args.env, args.conf)
    st.configure_logging(settings)
    spark = st.spark_session(settings)
    report = run(spark, settings, args.source, args.lake, args.run_date)
    print("\n".join(summary_lines(report)))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nightly_demand", description=__doc__.splitlines()[0])
    add_arguments(parser)
    from jobs.cli import guarded
    return guarded(lambda: execute(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
