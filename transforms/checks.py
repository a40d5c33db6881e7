"""Output checks that look at whole tables (the row-level ones are GX expectations in schemas/gx/).

Each returns a DataFrame of violations: empty means the check passed.
"""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from schemas import names as n
from transforms.local import local_frame


def summary_total_mismatches(part_demand: DataFrame, summary: DataFrame) -> DataFrame:
    """(bucket, plant, part) whose demand_summary total differs from the part_demand total."""
    demand = part_demand.groupBy(n.PLANT_ID, n.PART_ID).agg(F.sum(n.QUANTITY).alias("demand_total"))
    per_bucket = summary.groupBy(n.BUCKET, n.PLANT_ID, n.PART_ID).agg(F.sum(n.QUANTITY).alias("summary_total"))
    buckets = local_frame(summary.sparkSession, [(b,) for b in n.BUCKETS],
                          StructType([StructField(n.BUCKET, StringType(), False)]))
    expected = demand.crossJoin(buckets)
    return (expected.join(per_bucket, on=[n.BUCKET, n.PLANT_ID, n.PART_ID], how="full_outer")
            .where(~F.coalesce(F.col("demand_total") == F.col("summary_total"), F.lit(False))))


def uncovered_plant_models(part_demand: DataFrame, used_orders: DataFrame) -> DataFrame:
    """(plant, model) with orders used by the run but no fresh demand at all."""
    fresh = part_demand.where(F.col(n.CARRIED_FROM_RUN_ID).isNull()).select(n.PLANT_ID, n.MODEL_ID).distinct()
    return used_orders.select(n.PLANT_ID, n.MODEL_ID).distinct().join(fresh, on=[n.PLANT_ID, n.MODEL_ID], how="left_anti")


def plant_drift(part_demand: DataFrame, previous: DataFrame, max_pct: float) -> DataFrame:
    """(plant, source) of the previous run whose total demand changed by more than max_pct percent (or vanished).

    Orders and plan are compared each with their own kind, so a source that is new
    (the first run with a volume plan) is not a drift.
    """
    key = [n.PLANT_ID, n.SOURCE]
    new = part_demand.groupBy(*key).agg(F.sum(n.QUANTITY).alias("total"))
    old = previous.groupBy(*key).agg(F.sum(n.QUANTITY).alias("previous_total"))
    change = (F.coalesce(F.col("total"), F.lit(0)) - F.col("previous_total")) / F.col("previous_total") * 100
    return (old.join(new, on=key, how="left")
            .select(*key, "previous_total", "total", change.cast("double").alias("change_pct"))
            .where((F.col("previous_total") > 0) & (F.abs(F.col("change_pct")) > max_pct)))
