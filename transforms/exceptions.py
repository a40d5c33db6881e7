"""A night's demand -> exception messages a planner acts on, one row per (kind, plant, part, date).

    LATE     the order date of some demand is before the run date: the part must be expedited
             (one row per plant and part: date = the earliest passed order date, quantity = all the
             demand ordered too late, the message names the first need and how many order dates passed).
    STALE    demand carried from an older run for a blocked model (one row per plant, part and model;
             date = its first demand date).
    JUMP     a near-horizon week (the run date's week and the next `jump_weeks` - 1) whose demand
             changed by more than `jump_pct` % against the previous succeeded run (a week that appears
             or disappears counts as a jump); quantity and previous_quantity are the two weeks' totals.
    RUN_OUT  a part being phased out: every BOM edge to it ends (valid_to), the last on a date inside
             this night's demand horizon; date = that end, quantity = the demand of the
             `run_out_days` before it (order no more than that).

Carried rows (STALE) take part in no other kind: their dates belong to the run that computed them.
"""
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from schemas.tables import EXCEPTIONS
from transforms.summary import week_start

LATE, STALE, JUMP, RUN_OUT = "LATE", "STALE", "JUMP", "RUN_OUT"
KINDS = (LATE, STALE, JUMP, RUN_OUT)


def _text(*parts) -> Column:
    return F.concat(*[p if isinstance(p, Column) else F.lit(p) for p in parts])


def _qty(column: str) -> Column:
    return F.format_number(F.col(column).cast("double"), 2)


def _rows(df: DataFrame, run_id: str, kind: str) -> DataFrame:
    filled = df.withColumn(n.RUN_ID, F.lit(run_id)).withColumn("kind", F.lit(kind))
    for field in EXCEPTIONS.fields:
        if field.name not in filled.columns:
            filled = filled.withColumn(field.name, F.lit(None))
    return filled.select(*[F.col(f.name).cast(f.dataType) for f in EXCEPTIONS.fields])


def late(demand: DataFrame, run_date: date, run_id: str) -> DataFrame:
    """One row per (plant, part) whose demand has an order date before the run date: what to expedite."""
    rows = (demand.where(F.col(n.CARRIED_FROM_RUN_ID).isNull() & (F.col(n.ORDER_DATE) < F.lit(run_date)))
            .groupBy(n.PLANT_ID, n.PART_ID, n.UNIT)
            .agg(F.min(n.ORDER_DATE).alias("bucket_start"), F.max(n.ORDER_DATE).alias("last_order"),
                 F.count_distinct(n.ORDER_DATE).alias("order_dates"),
                 F.sum(n.QUANTITY).alias(n.QUANTITY), F.min(n.DEMAND_DATE).alias("first_need")))
    passed = F.when(F.col("order_dates") == 1, _text("order date ", F.col("bucket_start").cast("string"),
                                                    " has passed: ")).otherwise(
        _text(F.col("order_dates").cast("string"), " order dates from ", F.col("bucket_start").cast("string"),
              " to ", F.col("last_order").cast("string"), " have passed: "))
    return _rows(rows.withColumn("message", _text(
        passed, _qty(n.QUANTITY), " ", F.coalesce(F.col(n.UNIT), F.lit("")), " needed from ",
        F.col("first_need").cast("string"), " (run date ", F.lit(run_date.isoformat()), "): expedite")),
        run_id, LATE)


def stale(demand: DataFrame, run_id: str) -> DataFrame:
    rows = (demand.where(F.col(n.CARRIED_FROM_RUN_ID).isNotNull())
            .groupBy(n.PLANT_ID, n.PART_ID, n.MODEL_ID, n.CARRIED_FROM_RUN_ID)
            .agg(F.sum(n.QUANTITY).alias(n.QUANTITY), F.min(n.DEMAND_DATE).alias("bucket_start")))
    return _rows(rows.withColumn("message", _text(
        "model ", F.col(n.MODEL_ID), " is blocked by a BOM defect: ", _qty(n.QUANTITY),
        " of this demand is carried from run ", F.col(n.CARRIED_FROM_RUN_ID), " (stale)")), run_id, STALE)


def weekly(demand: DataFrame, first: date, last: date) -> DataFrame:
    week = week_start(F.col(n.DEMAND_DATE))
    return (demand.where(F.col(n.CARRIED_FROM_RUN_ID).isNull())
            .withColumn("bucket_start", week)
            .where(F.col("bucket_start").between(F.lit(first), F.lit(last)))
            .groupBy(n.PLANT_ID, n.PART_ID, "bucket_start").agg(F.sum(n.QUANTITY).alias("total")))


def jump(demand: DataFrame, previous: DataFrame | None, run_date: date, run_id: str, pct: float,
         weeks: int) -> DataFrame:
    if previous is None:
        return _rows(demand.limit(0).select(n.PLANT_ID), run_id, JUMP)
    first = run_date - timedelta(days=run_date.weekday())
    last = first + timedelta(weeks=weeks - 1)
    key = [n.PLANT_ID, n.PART_ID, "bucket_start"]
    now, before = weekly(demand, first, last), weekly(previous, first, last)
    both = (now.withColumnRenamed("total", n.QUANTITY)
            .join(before.withColumnRenamed("total", "previous_quantity"), on=key, how="full_outer")
            .withColumn(n.QUANTITY, F.coalesce(F.col(n.QUANTITY), F.lit(0)).cast(q.DEMAND))
            .withColumn("previous_quantity", F.coalesce(F.col("previous_quantity"), F.lit(0)).cast(q.DEMAND)))
    change = F.when(F.col("previous_quantity") == 0, None).otherwise(
        (F.col(n.QUANTITY) - F.col("previous_quantity")) / F.col("previous_quantity") * 100)
    jumped = both.withColumn("change", change).where(
        (F.col(n.QUANTITY) != F.col("previous_quantity"))
        & (F.col("change").isNull() | (F.abs(F.col("change")) > F.lit(pct))))
    return _rows(jumped.withColumn("message", _text(
        "week of ", F.col("bucket_start").cast("string"), ": ", _qty(n.QUANTITY), " against ",
        _qty("previous_quantity"), " in the previous run (",
        F.when(F.col("change").isNull(), F.lit("new")).otherwise(
            F.concat(F.when(F.col("change") > 0, F.lit("+")).otherwise(F.lit("")),
                     F.format_number(F.col("change"), 0), F.lit("%"))), ")")), run_id, JUMP)


def run_out(demand: DataFrame, edges: DataFrame, run_id: str, days: int) -> DataFrame:
    ends = (edges.groupBy(F.col(n.CHILD_ID).alias(n.PART_ID))
            .agg(F.max(n.VALID_TO).alias("bucket_start"), F.count(F.lit(1)).alias("edges"),
                 F.count(n.VALID_TO).alias("ending")))
    phased = ends.where(F.col("edges") == F.col("ending")).select(n.PART_ID, "bucket_start")
    own = demand.where(F.col(n.CARRIED_FROM_RUN_ID).isNull())
    horizon = own.agg(F.max(n.DEMAND_DATE).alias("horizon"))
    rows = (own.join(phased, on=n.PART_ID, how="inner").crossJoin(horizon)
            .where((F.col("bucket_start") <= F.col("horizon"))
                   & (F.col(n.DEMAND_DATE) >= F.date_sub(F.col("bucket_start"), days)))
            .groupBy(n.PLANT_ID, n.PART_ID, n.UNIT, "bucket_start")
            .agg(F.sum(n.QUANTITY).alias(n.QUANTITY), F.max(n.DEMAND_DATE).alias("last_need")))
    return _rows(rows.withColumn("message", _text(
        "phase-out: the last BOM edge ends on ", F.col("bucket_start").cast("string"), "; ", _qty(n.QUANTITY),
        " ", F.coalesce(F.col(n.UNIT), F.lit("")), " needed in the ", F.lit(str(days)),
        " days before, the last on ", F.col("last_need").cast("string"), ": order no more than that")),
        run_id, RUN_OUT)


def exceptions(demand: DataFrame, previous: DataFrame | None, edges: DataFrame, run_date: date, run_id: str,
               settings: dict) -> DataFrame:
    """Every exception of a night's part_demand (`previous`: the part_demand the night replaces)."""
    return (late(demand, run_date, run_id)
            .unionByName(stale(demand, run_id))
            .unionByName(jump(demand, previous, run_date, run_id, float(settings["jump_pct"]),
                              int(settings["jump_weeks"])))
            .unionByName(run_out(demand, edges, run_id, int(settings["run_out_days"]))))
