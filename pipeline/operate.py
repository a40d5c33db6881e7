"""Operating the lake: status, diff (shadow compare), restore, maintain.

    bomflow status   --lake DIR [--last N]
    bomflow diff     --lake DIR [--from RUN] [--to RUN] [--against OTHER_LAKE] [--threshold-pct P] [--by part|week]
    bomflow restore  --lake DIR --run RUN
    bomflow maintain --lake DIR
"""
import json
from datetime import datetime, timezone

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from pipeline.errors import BomflowError
from pipeline.record import COMMITTED
from schemas import names as n
from transforms.diff import ADDED, CHANGED, REMOVED, demand_diff, plant_totals

RESTORED = n.RESTORED
# Clustering of the outputs for what reads them: the Solr push and planners filter by plant and part.
ZORDER = {n.PART_DEMAND: (n.PART_ID, n.DEMAND_DATE), n.DEMAND_SUMMARY: (n.PLANT_ID, n.PART_ID)}


# ---- status ------------------------------------------------------------------------------------

def check_last(spark: SparkSession, lake: str, run_date: str | None) -> str | None:
    """None when the newest run succeeded with its gates passed (and is for run_date, if given), else why not."""
    row = lk.runs_table(spark, lake).orderBy(F.col("started_at").desc()).first()
    if row is None:
        return "no runs yet"
    if row.status != n.SUCCEEDED or row.gate_result != n.PASSED:
        return f"newest run {row.run_id} is {row.status} (gates: {row.gate_result}): {row.error or ''}".rstrip(": ")
    if run_date and str(row.run_date) != run_date:
        return f"newest run {row.run_id} is for {row.run_date}, not {run_date}"
    return None


def status_lines(spark: SparkSession, lake: str, last: int = 10) -> list[str]:
    rows = lk.runs_table(spark, lake).orderBy(F.col("started_at").desc()).limit(last).collect()
    lines = [f"last {len(rows)} runs in {lake} (newest first)",
             f"  {'run_id':<24} {'status':<9} {'gates':<15} {'publish':<10} {'seconds':>8} {'orders':>9} "
             f"{'demand rows':>11} {'quarantined':>11}  notes"]
    for r in rows:
        metrics = json.loads(r.metrics_json or "{}")
        seconds = metrics.get("total_seconds")
        notes = []
        if r.blocked_models:
            notes.append("blocked " + ",".join(sorted(json.loads(r.blocked_models))))
        if metrics.get("restored_run_id"):
            notes.append(f"restored {metrics['restored_run_id']}")
        if r.error:
            notes.append(r.error[:80])
        if r.published_collection:
            notes.append(f"solr {r.published_collection}")
        lines.append(f"  {r.run_id:<24} {r.status:<9} {r.gate_result or '-':<15} {r.publish_status or '-':<10} "
                     f"{seconds if seconds is not None else '-':>8} {r.orders_read or 0:>9,} "
                     f"{r.part_demand_rows or 0:>11,} {r.quarantine_rows or 0:>11,}  {'; '.join(notes)}")
    return lines


def serving_run_id(spark: SparkSession, lake: str) -> str | None:
    """The run whose state the lake serves (after a restore: the restored run), or None."""
    run = lk.serving_run(spark, lake)
    return run.run_id if run is not None else None


# ---- diff --------------------------------------------------------------------------------------

def _run_demand(spark: SparkSession, lake: str, run_id: str | None):
    run = lk.succeeded_run(spark, lake, run_id)
    return run, lk.committed_table(spark, lake, run, n.PART_DEMAND)


def _previous_run_id(spark: SparkSession, lake: str, before: str) -> str:
    row = (lk.runs_table(spark, lake).where((F.col("status") == n.SUCCEEDED) & (F.col(n.RUN_ID) < before))
           .orderBy(F.col("started_at").desc()).select(n.RUN_ID).first())
    if row is None:
        raise BomflowError(f"no succeeded run before {before} in {lake}: nothing to compare with")
    return row[0]


def diff(spark: SparkSession, lake: str, from_run: str | None, to_run: str | None, against: str | None,
         threshold_pct: float, top: int = 15, by_week: bool = False) -> tuple[list[str], int]:
    """(report lines, parts above the threshold). Without --against: run `to` (default last) against `from`
    (default the succeeded run before it). With --against: the same runs' roles in two lakes (LAKE is the
    reference, OTHER_LAKE the candidate, e.g. a shadow system)."""
    if against:
        old_run, old = _run_demand(spark, lake, from_run)
        new_run, new = _run_demand(spark, against, to_run)
        title = f"{lake} run {old_run.run_id}  ->  {against} run {new_run.run_id}"
    else:
        new_run, new = _run_demand(spark, lake, to_run)
        old_run, old = _run_demand(spark, lake, from_run or _previous_run_id(spark, lake, new_run.run_id))
        title = f"{lake}: run {old_run.run_id} -> run {new_run.run_id}"
    changes = demand_diff(old, new, threshold_pct, by_week=by_week).localCheckpoint(eager=True)
    counts = {r.kind: r["count"] for r in changes.groupBy("kind").count().collect()}
    differing = sum(counts.get(k, 0) for k in (ADDED, REMOVED, CHANGED))
    unit = "plant, part and week" if by_week else "plant and part"
    lines = [f"diff {title}  (threshold {threshold_pct} % per {unit})",
             f"  {'part-weeks' if by_week else 'parts'}: {counts.get(ADDED, 0)} added, {counts.get(REMOVED, 0)} removed, "
             f"{counts.get(CHANGED, 0)} changed, {counts.get('same', 0)} within threshold",
             f"  {'plant':<8} {'old total':>18} {'new total':>18} {'change %':>9} {'added':>6} {'removed':>8} {'changed':>8}"]
    for r in plant_totals(changes).collect():
        old_t, new_t = float(r.old_total or 0), float(r.new_total or 0)
        pct = f"{(new_t - old_t) / old_t * 100:+.2f}" if old_t else "new"
        lines.append(f"  {r.plant_id:<8} {old_t:>18,.3f} {new_t:>18,.3f} {pct:>9} {r.added:>6} {r.removed:>8} {r.changed:>8}")
    biggest = (changes.where(F.col("kind") != "same").orderBy(F.abs(F.col("change")).desc(), *ZORDER[n.DEMAND_SUMMARY])
               .limit(top).collect())
    if biggest:
        lines.append(f"  largest differences (up to {top}):")
        for r in biggest:
            pct = f"{r.change_pct:+.2f} %" if r.change_pct is not None else ""
            week = f" {r.week}" if by_week else ""
            lines.append(f"    {r.kind:<8} {r.plant_id:<6} {r.part_id:<24}{week} {float(r.old_quantity or 0):>14,.3f} -> "
                         f"{float(r.new_quantity or 0):>14,.3f}  {pct}")
    return lines, differing


# ---- restore -----------------------------------------------------------------------------------

def restore(spark: SparkSession, lake: str, run_id: str) -> list[str]:
    """Delta RESTORE of the outputs to the versions a succeeded run committed; appends a `restored` runs row."""
    from functools import partial

    from pipeline.night import concurrently, finish
    from pipeline.record import RunRecord, new_run_id

    def restore_table(table: str) -> None:
        DeltaTable.forPath(spark, lk.table_path(lake, table)).restoreToVersion(versions[table])

    run = lk.succeeded_run(spark, lake, run_id)
    versions = json.loads(run.metrics_json)["committed_versions"]
    started = datetime.now(timezone.utc)
    tables = [table for table in COMMITTED if table in versions]
    concurrently(spark, {table: partial(restore_table, table) for table in tables})   # one table each, like commit
    lines = [f"  {table:<15} restored to version {versions[table]}" for table in tables]
    report = RunRecord(run_id=new_run_id(started), run_date=run.run_date, source=run.source_path, lake=lake,
                       started_at=started, status=RESTORED, gate_result=run.gate_result)
    report.metrics = {"restored_run_id": run.run_id, "serves_run_id": run.run_id,
                      "committed_versions": {t: lk.table_version(spark, lake, t) for t in COMMITTED if t in versions}}
    finish(spark, report)
    return [f"restored the outputs of run {run.run_id} (recorded as {report.run_id}, status {RESTORED})", *lines,
            "  Solr is unchanged: `bomflow rollback --to RUN` repoints the alias"]


# ---- maintain ----------------------------------------------------------------------------------

def maintain(spark: SparkSession, lake: str, conf: dict) -> list[str]:
    """OPTIMIZE (Z-ordered where readers filter) and VACUUM every Delta table of the lake; then a
    `maintained` runs row records the new versions of the state served (same contents)."""
    from pipeline.night import finish
    from pipeline.record import RunRecord, new_run_id

    retention = float(conf.get("vacuum_retention_hours", 168))
    started = datetime.now(timezone.utc)
    lines = [f"maintain {lake} (vacuum retention {retention:g} h: time travel, diff and restore reach that far back)"]
    serving = lk.serving_run(spark, lake)
    lines += [f"  repaired {line}" for line in lk.repair(spark, lake, COMMITTED, serving)]
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY, n.QUARANTINE, n.RUNS, n.PLANTS, n.PARTS, "catenax_ids"):
        path = lk.table_path(lake, table)
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        delta = DeltaTable.forPath(spark, path)
        optimizer = delta.optimize()
        metrics = (optimizer.executeZOrderBy(*ZORDER[table]) if table in ZORDER else optimizer.executeCompaction()).first()
        removed = metrics.metrics.numFilesRemoved if metrics is not None else 0
        added = metrics.metrics.numFilesAdded if metrics is not None else 0
        delta.vacuum(retention)
        lines.append(f"  {table:<15} optimized ({removed} files -> {added}"
                     f"{', z-ordered by ' + ', '.join(ZORDER[table]) if table in ZORDER else ''}), vacuumed")
    if serving is not None:
        served = json.loads(serving.metrics_json)["committed_versions"]
        report = RunRecord(run_id=new_run_id(started), run_date=serving.run_date, source=serving.source_path,
                           lake=lake, started_at=started, status=n.MAINTAINED, gate_result=serving.gate_result)
        report.metrics = {"serves_run_id": serving.run_id,
                          "committed_versions": {t: lk.table_version(spark, lake, t) for t in COMMITTED if t in served}}
        finish(spark, report)
        lines.append(f"  serves run {serving.run_id} (recorded as {report.run_id}, status {n.MAINTAINED})")
    return lines
