"""The nightly demand job in one straight pass:

    read -> validate -> input gate -> explode -> summarise -> exceptions -> output gate -> commit -> publish

`night()` below is that list. Each step is a function that takes values and
returns values; the run record is filled only here, from what the steps
return. Every input table is validated once and persisted once; the demand and
its summary are computed once, kept in memory for the output gate, and written
once, after the gate passed, so a failed night leaves the last good state.
`bomflow run` and `spark-submit jobs/nightly_demand.py` both call execute().
"""
import argparse
import contextvars
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from functools import partial
from pathlib import Path

from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from adapters import storage
from adapters import solr, solr_lock
from pipeline import config, logs
from pipeline.errors import BomflowError, GateFailed
from pipeline.faults import failpoint
from pipeline.gates import GateResult, Suites, input_gate, output_gate
from pipeline.record import COMMITTED, MASTER_DATA, PEGGING, RunRecord, new_run_id, summary_lines
from schemas import names as n
from schemas.tables import QUARANTINE, RUNS
from transforms.demand import by_file_partition, carried_demand
from transforms.engine import OrderDemand, Screened, explode_screened, screen
from transforms.exceptions import exceptions
from transforms.scope import Scope, restrict
from transforms.summary import demand_summary

log = logs.get("bomflow.night")


@dataclass(frozen=True)
class Request:
    """What a night is asked to do."""
    source: str
    lake: str
    run_date: date | None = None
    scope: Scope = Scope()
    run_id: str | None = None


@dataclass
class Outputs:
    """The night's new lake state, in memory until commit."""
    part_demand: DataFrame      # new rows (and carried rows of blocked models), persisted
    summarised: DataFrame       # the part_demand rows demand_summary was built from
    summary: DataFrame          # demand_summary, persisted
    previous_slice: DataFrame | None   # the part_demand rows this night replaces (drift baseline)
    partial: bool               # a partial run over an existing table: replace only its slice
    stats: dict = field(default_factory=dict)
    exceptions: DataFrame | None = None   # the night's exception messages (appended at commit), persisted
    pegging: dict[str, DataFrame] = field(default_factory=dict)   # PEGGING table -> its rows (not persisted)


# --- the steps -----------------------------------------------------------------------------------------------

def read(spark: SparkSession, request: Request) -> dict[str, DataFrame]:
    """Every input table of the contract, typed; for a partial run only its partitions."""
    tables = lk.read_source(spark, request.source)
    if request.scope.full:
        return tables
    check_scope(tables, request.scope)
    log.info("partial_run", scope=request.scope.describe())
    return restrict(tables, request.scope)


def validate(tables: dict[str, DataFrame], engine: dict) -> Screened:
    """One validation pass per table: used rows, quarantine rows, blocked models, reconciliation counts."""
    return screen(tables, int(engine["max_rule_terms"]))


def check_input(suites: Suites, screened: Screened, gates: dict) -> GateResult:
    return input_gate(suites, screened.rows, screened.used, screened.reconciliation, screened.quarantine_by_reason,
                      float(gates["max_quarantined_pct"]), int(gates.get("min_quarantined_rows", 0)))


def explode(screened: Screened, run_id: str, engine: dict) -> OrderDemand:
    return explode_screened(screened, run_id, int(engine["max_depth"]), int(engine["broadcast_edge_rows"]))


def summarise(demand: OrderDemand, previous: DataFrame | None, scope: Scope, run_id: str) -> Outputs:
    """The night's part_demand (with carried rows of blocked models) and demand_summary, persisted.

    previous: part_demand as the serving run committed it (None on a new lake)."""
    mine = previous.where(scope.predicate()) if previous is not None else None   # the slice this night replaces
    rows = demand.part_demand
    if demand.blocked and previous is not None:
        rows = rows.unionByName(carried_demand(mine, sorted(demand.blocked), run_id))
    staged = by_file_partition(rows).localCheckpoint(eager=True)
    summarised = summarised_rows(staged, previous, scope, run_id)
    counted = Observation()   # counted while the summary is built: no job of its own
    summary = (demand_summary(summarised).observe(counted, F.count(F.lit(1)).alias("rows"))
               .localCheckpoint(eager=True))
    stats = staged.agg(F.count(F.lit(1)).alias("rows"), F.countDistinct(n.PART_ID).alias("parts"),
                       F.count(n.CARRIED_FROM_RUN_ID).alias("carried")).first().asDict()
    stats["summary_rows"] = counted.get["rows"]
    return Outputs(staged, summarised, summary, mine, partial=not scope.full and previous is not None, stats=stats,
                   pegging={n.ORDER_SIGNATURES: demand.order_signatures, n.SIGNATURES: demand.signatures_table})


def flag(outputs: Outputs, screened: Screened, run_date: date, run_id: str, settings: dict) -> dict[str, int]:
    """The night's exception messages (LATE, STALE, JUMP, RUN_OUT), persisted into outputs; their count by kind."""
    found = exceptions(outputs.part_demand, outputs.previous_slice, screened.edges, run_date, run_id, settings)
    outputs.exceptions = found.localCheckpoint(eager=True)
    return {r["kind"]: r["count"] for r in outputs.exceptions.groupBy("kind").count().collect()}


def check_output(suites: Suites, outputs: Outputs, screened: Screened, gates: dict) -> GateResult:
    return output_gate(suites, outputs.part_demand, outputs.summarised, outputs.summary,
                       screened.used[n.PRODUCTION_ORDERS], outputs.previous_slice, gates.get("max_plant_drift_pct"))


def commit(lake: str, outputs: Outputs, screened: Screened, scope: Scope, run_id: str) -> dict[str, int]:
    """Write the outputs, each commit tagged with the run id; returns the Delta version each write made.

    Readers see none of it until finish() appends the runs row that records these versions: the
    runs row is the commit point of the night (a crash before it leaves every reader on the
    previous state, and the next night's repair() puts the tables back)."""
    failpoint("before_commit")
    versions = {n.PART_DEMAND: lk.write_table(outputs.part_demand, lake, n.PART_DEMAND,
                                               partition_by=(n.PLANT_ID, n.MODEL_ID), run_id=run_id,
                                               replace_where=scope.sql() if outputs.partial else None)}
    failpoint("after_part_demand")
    versions[n.DEMAND_SUMMARY] = lk.write_table(
        outputs.summary, lake, n.DEMAND_SUMMARY, run_id=run_id,
        replace_where=scope.sql(plants_only=True) if outputs.partial and scope.plants else None)
    failpoint("after_demand_summary")
    writes = {table: partial(lk.write_table, rows, lake, table, partition_by=(n.PLANT_ID, n.MODEL_ID), run_id=run_id,
                             replace_where=scope.sql() if outputs.partial else None)   # per (plant, model)
              for table, rows in outputs.pegging.items()}
    for table in MASTER_DATA:   # the exports' plant sites and part descriptions; the BOM that explain --run reads
        writes[table] = partial(lk.write_table, screened.used[table], lake, table, run_id=run_id)
    if outputs.exceptions is not None:   # keyed by run id, like quarantine: readers take the serving run's rows
        writes[n.EXCEPTIONS] = partial(lk.write_table, outputs.exceptions, lake, n.EXCEPTIONS, mode="append")
    versions.update(concurrently(outputs.part_demand.sparkSession, writes))
    versions.pop(n.EXCEPTIONS, None)
    failpoint("after_master_data")
    return versions


def concurrently(spark: SparkSession, calls: dict[str, Callable[[], int | None]],
                 threads: int = 4) -> dict[str, int | None]:
    """Run independent Delta writes (one table each) from a few driver threads: each is mostly driver-side
    work (planning, the Delta log), so they overlap well. Spark's local properties (the step's job
    description, the run id) and the log context follow each thread. The first failure is raised after all
    have ended."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bomflow-commit") as pool:
        futures = {name: pool.submit(contextvars.copy_context().run, inheritable_thread_target(spark)(call))
                   for name, call in calls.items()}   # the log context (run id) follows too
    return {name: future.result() for name, future in futures.items()}


def publish_step(spark: SparkSession, settings: dict, lake: str, run_id: str | None, url: str | None = None) -> str:
    """Publish a run's demand_summary and exception messages to Solr (blue/green), holding Solr's publish
    lock (one publisher per Solr, whatever its lake), and record the outcome in its runs row."""
    try:
        with solr_lock.held(settings["solr"], url or settings["solr"]["url"], "publish", lake, builds_collection=True):
            done = solr.publish(spark, settings["solr"], lake, run_id, url)
    except solr.PublishError as err:
        if err.run_id or run_id:
            solr.record_publish(spark, lake, err.run_id or run_id, "failed", None)
        raise
    solr.record_publish(spark, lake, done.run_id, "published", done.collection)
    return (f"published run {done.run_id}: {done.documents:,} documents in {done.collection}; "
            f"alias {settings['solr']['alias']} -> {done.collection} (was {done.previous or 'none'})")


# --- the night -----------------------------------------------------------------------------------------------

def night(spark: SparkSession, settings: dict, request: Request) -> RunRecord:
    """One nightly run; appends its row to `runs` whether it succeeds or fails (publishing is execute()'s)."""
    now = datetime.now(timezone.utc)
    record = RunRecord(run_id=request.run_id or new_run_id(now), run_date=request.run_date or now.date(),
                       source=request.source, lake=request.lake, started_at=now,
                       config_sha256=config.fingerprint(settings))
    with logs.bound(run_id=record.run_id), spark_context(spark, "mdc.run_id", record.run_id):
        return _night(spark, settings, request, record)


def _night(spark: SparkSession, settings: dict, request: Request, record: RunRecord) -> RunRecord:
    steps = record.metrics.setdefault("step_seconds", {})
    engine, gates = settings["engine"], settings["gates"]
    log.info("run_started", source=request.source, lake=request.lake)
    try:
        with step(spark, steps, "repair"):   # a night killed mid-commit left tables ahead of the runs table
            serving = lk.serving_run(spark, request.lake)
            record.metrics["repaired"] = lk.repair(spark, request.lake, COMMITTED, serving)
        with step(spark, steps, "read_validate"):
            tables = read(spark, request)
            screened = validate(tables, engine)
            write_quarantine(screened.problems, request.lake, record.run_id)
        record_screen(record, screened, request.scope)
        docs = storage.join(request.lake, "_validation", record.run_id)
        suites = Suites(storage.local_path(docs) if storage.is_local(docs) else tempfile.mkdtemp(prefix="bomflow-docs-"))
        try:
            with step(spark, steps, "input_gate"):
                gate = check_input(suites, screened, gates)
            require(gate, record)
            with step(spark, steps, "explode"):
                demand = explode(screened, record.run_id, engine)
            record_explosion(record, demand)
            with step(spark, steps, "summarise"):
                outputs = summarise(demand, previous_demand(spark, request.lake, serving), request.scope,
                                    record.run_id)
            with step(spark, steps, "exceptions"):
                record.metrics["exceptions"] = flag(outputs, screened, record.run_date, record.run_id,
                                                    settings["exceptions"])
            with step(spark, steps, "output_gate"):
                gate = check_output(suites, outputs, screened, gates)
            require(gate, record)
        finally:
            record.validation_docs = kept_docs(spark, suites, docs)
        with step(spark, steps, "commit"):
            record.metrics["committed_versions"] = commit(request.lake, outputs, screened, request.scope, record.run_id)
        failpoint("before_runs_row")
        record_outputs(record, outputs)
    except Exception as err:  # recorded in runs, then re-raised for the caller's exit code
        record.status, record.error = n.FAILED, str(err).splitlines()[0][:500]
        raise
    finally:
        finish(spark, record)
    return record


def kept_docs(spark: SparkSession, suites: Suites, docs: str) -> str | None:
    """Build the run's Data Docs (their index page). GX writes local files only: for a lake on a Hadoop
    filesystem they are built in a local folder, copied to `docs` on the lake, and the folder removed."""
    url = suites.finish()
    if storage.is_local(docs):
        return url
    storage.FileSystem(spark, docs).put(suites.root, docs)
    shutil.rmtree(suites.root, ignore_errors=True)
    return url and url.replace(Path(suites.root).resolve().as_uri(), docs)


@contextmanager
def spark_context(spark: SparkSession, key: str, value: str):
    """A Spark local property for the jobs inside (`mdc.*` ones reach the executors' log lines)."""
    spark.sparkContext.setLocalProperty(key, value)
    try:
        yield
    finally:
        spark.sparkContext.setLocalProperty(key, None)


@contextmanager
def step(spark: SparkSession, seconds: dict, name: str):
    """Time a step; its Spark jobs carry its name (Spark UI, History Server)."""
    spark.sparkContext.setJobDescription(f"bomflow {name}")
    started = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = round(time.monotonic() - started, 3)
        spark.sparkContext.setJobDescription(None)
        log.info("step_done", step=name, seconds=seconds[name])


def require(gate: GateResult, record: RunRecord) -> None:
    record.metrics[f"{gate.name}_gate"] = gate.as_dict()
    if not gate.passed:
        record.gate_result = f"failed: {gate.name}"
        raise GateFailed(f"{gate.name} gate failed, nothing committed:\n  " + "\n  ".join(gate.failures))


def record_screen(record: RunRecord, screened: Screened, scope: Scope) -> None:
    record.blocked = screened.blocked
    record.reconciliation = screened.reconciliation
    record.quarantine_by_reason = screened.quarantine_by_reason
    record.quarantine_rows = screened.quarantine_rows
    record.orders_read = screened.reconciliation[n.PRODUCTION_ORDERS]["read"]
    if not scope.full:
        record.metrics["scope"] = {"plants": list(scope.plants), "models": list(scope.models)}


def record_explosion(record: RunRecord, demand: OrderDemand) -> None:
    record.configurations, record.levels = demand.signatures, len(demand.levels)
    record.metrics["signatures"] = {"exploded": demand.signatures, "dated": demand.dated_signatures}
    record.metrics["levels"] = [asdict(level) for level in demand.levels]
    record.metrics["plan"] = {"rows_exploded": demand.plan_rows, "rows_covered_by_orders": demand.plan_rows_covered,
                              "levels": [asdict(level) for level in demand.plan_levels]}


def record_outputs(record: RunRecord, outputs: Outputs) -> None:
    record.part_demand_rows, record.parts_with_demand = outputs.stats["rows"], outputs.stats["parts"]
    record.carried_rows, record.demand_summary_rows = outputs.stats["carried"], outputs.stats["summary_rows"]
    record.gate_result, record.status = n.PASSED, n.SUCCEEDED


def finish(spark: SparkSession, record: RunRecord) -> None:
    record.finished_at = datetime.now(timezone.utc)
    record.metrics["total_seconds"] = round((record.finished_at - record.started_at).total_seconds(), 3)
    try:
        lk.write_table(spark.createDataFrame([record.runs_row()], RUNS), record.lake, n.RUNS, mode="append")
    except Exception as err:  # the lake itself may be unwritable: say so, keep the first error
        log.error("runs_append_failed", error=str(err).splitlines()[0])
    log.info("run_finished", status=record.status, seconds=record.metrics["total_seconds"],
             gate_result=record.gate_result, error=record.error)


# --- helpers of the steps ------------------------------------------------------------------------------------

def previous_demand(spark: SparkSession, lake: str, run) -> DataFrame | None:
    """part_demand as the serving run (`run`, lk.serving_run's answer) committed it (never a later,
    half-committed version); None on a new lake."""
    return lk.committed_table(spark, lake, run, n.PART_DEMAND) if run is not None else None


def write_quarantine(problems: DataFrame, lake: str, run_id: str) -> None:
    rows = problems.select(F.lit(run_id).alias(n.RUN_ID), "*")
    lk.write_table(rows.select(*[F.col(f.name).cast(f.dataType) for f in QUARANTINE.fields]),
                   lake, n.QUARANTINE, mode="append")


def summarised_rows(staged: DataFrame, previous: DataFrame | None, scope: Scope, run_id: str) -> DataFrame:
    """The part_demand rows demand_summary is rebuilt from: the new ones, plus for a partial run the kept rows
    (other models) of the plants it touches. The summary is stamped with this run's id."""
    rows = staged
    if not scope.full and previous is not None:
        rows = rows.unionByName(previous.where(scope.predicate(plants_only=True) & ~scope.predicate()))
    return rows.withColumn(n.RUN_ID, F.lit(run_id))


def check_scope(tables: dict[str, DataFrame], scope: Scope) -> None:
    for flag, table, column, wanted in (("--plants", n.PLANTS, n.PLANT_ID, scope.plants),
                                        ("--models", n.VEHICLE_MODELS, n.MODEL_ID, scope.models)):
        if wanted:
            known = {r[0] for r in tables[table].select(column).collect()}
            if set(wanted) - known:
                raise BomflowError(f"{flag}: {', '.join(sorted(set(wanted) - known))} not in the "
                                   f"source's {table} (it has {', '.join(sorted(known)[:20])})")


# --- entry ---------------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder with one sub-folder per input table")
    parser.add_argument("--lake", required=True, help="folder of the Delta lake to write")
    parser.add_argument("--conf", help="extra YAML laid over conf/base.yaml + conf/$BOMFLOW_ENV.yaml")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
    parser.add_argument("--run-date", type=date.fromisoformat, help="the run's date, YYYY-MM-DD (default today, UTC)")
    parser.add_argument("--plants", help="comma-separated plant ids: recompute only these plants' partitions")
    parser.add_argument("--models", help="comma-separated model ids: recompute only these models' partitions")
    parser.add_argument("--no-publish", action="store_true", help="do not publish to Solr after a successful run")
    add_log_level(parser)
    add_wait(parser)


def add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default $BOMFLOW_LOG_LEVEL, else conf log_level)")


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=float, metavar="SECONDS", default=0,
                        help="if another command holds the lake, wait up to SECONDS for it (default: refuse at once)")


def execute(args: argparse.Namespace) -> int:
    """`bomflow run` / spark-submit: the night, its summary, then the publish (unless --no-publish or conf says no)."""
    from adapters.session import leased

    settings = config.load(args.env, args.conf)
    logs.configure(settings, getattr(args, "log_level", None))
    try:
        scope = Scope.parse(args.plants, args.models)
    except ValueError as err:
        raise BomflowError(str(err)) from None
    publish = bool(settings["solr"].get("publish_on_run")) and not args.no_publish
    if publish:
        solr.require_reachable(settings["solr"])   # say so now, not after the night's work
    with leased(settings, args.lake, "run", args.wait) as spark:
        try:
            record = night(spark, settings, Request(args.source, args.lake, args.run_date, scope))
            print("\n".join(summary_lines(record)))
            if publish:
                print(publish_step(spark, settings, args.lake, record.run_id))
        finally:
            export_metrics(spark, settings, args.lake)
    return 0


def export_metrics(spark: SparkSession, settings: dict, lake: str) -> None:
    """Rewrite the Prometheus textfile (conf metrics.textfile) after a night or a publish, failed ones
    included; a metrics file that cannot be written is logged, never the night's failure."""
    from pipeline import metrics
    from pipeline.resources import state_path

    target = settings.get("metrics", {}).get("textfile")
    if not target:
        return
    try:
        path = state_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("metrics_written", path=metrics.export(spark, lake, path))
    except Exception as err:   # noqa: BLE001 - reported, and the night's own outcome stands
        log.warning("metrics_not_written", error=str(err).splitlines()[0] if str(err) else type(err).__name__)
