"""Shadow compare: part_demand of two runs (or two lakes) per plant and part."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.summary import week_start

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"
KEY = (n.PLANT_ID, n.PART_ID)
WEEK = "week"


def demand_diff(old: DataFrame, new: DataFrame, threshold_pct: float, min_abs: float = 1e-6,
                by_week: bool = False) -> DataFrame:
    """(plant_id, part_id[, week], old_quantity, new_quantity, change, change_pct, kind).

    Totals are summed over models, sources and dates (per plant and part), or per
    ISO week of demand_date with by_week, so demand moved between weeks shows too.
    kind is `added` / `removed` when one side has no demand, `changed` when
    |change| > min_abs and |change| > threshold_pct % of the old total, else `same`.
    """
    key = [*KEY, WEEK] if by_week else list(KEY)

    def totals(df: DataFrame, name: str) -> DataFrame:
        if by_week:
            df = df.withColumn(WEEK, week_start(F.col(n.DEMAND_DATE)))
        return df.groupBy(*key).agg(F.sum(n.QUANTITY).alias(name))

    joined = totals(old, "old_quantity").join(totals(new, "new_quantity"), on=key, how="full_outer")
    old_q, new_q = F.col("old_quantity"), F.col("new_quantity")
    change = F.coalesce(new_q, F.lit(0)) - F.coalesce(old_q, F.lit(0))
    change_pct = F.when(old_q != 0, change / old_q * 100).cast("double")
    significant = (F.abs(change) > F.lit(min_abs)) & (F.abs(change) > F.abs(F.coalesce(old_q, F.lit(0))) * (threshold_pct / 100))
    kind = (F.when(old_q.isNull(), F.lit(ADDED)).when(new_q.isNull(), F.lit(REMOVED))
            .when(significant, F.lit(CHANGED)).otherwise(F.lit(SAME)))
    return joined.select(*key, "old_quantity", "new_quantity", change.alias("change"),
                         change_pct.alias("change_pct"), kind.alias("kind"))


def plant_totals(diff: DataFrame) -> DataFrame:
    """Per plant: old and new total demand and how many parts were added, removed, changed."""
    return (diff.groupBy(n.PLANT_ID)
            .agg(F.sum("old_quantity").alias("old_total"), F.sum("new_quantity").alias("new_total"),
                 *[F.sum(F.when(F.col("kind") == k, 1).otherwise(0)).alias(k) for k in (ADDED, REMOVED, CHANGED)])
            .orderBy(n.PLANT_ID))
