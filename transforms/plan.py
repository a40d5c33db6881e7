"""volume_plan rows -> plan configurations, after the order horizon (contract §Long-term plan).

Horizon rule: orders are the authority for the months they reach. A plan row of
(plant, model, month) is exploded only when its month starts after the month of
the last used production order of that (plant, model); a (plant, model) without
orders takes every plan month. So a production month is counted from orders or
from the plan, never both. The rest of the last order month is not planned:
orders are released for whole months ahead in practice, and a partial month
would need a pro-rating rule the contract does not give.
"""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q

COVERED = "_covered_by_orders"


def mark_horizon(plan: DataFrame, orders: DataFrame) -> DataFrame:
    """plan with boolean _covered_by_orders: the month is not after the last order month of its (plant, model)."""
    last = orders.groupBy(n.PLANT_ID, n.MODEL_ID).agg(
        F.trunc(F.max(n.PRODUCTION_DATE), "month").alias("_last_order_month"))
    return (plan.join(F.broadcast(last), on=[n.PLANT_ID, n.MODEL_ID], how="left")
            .withColumn(COVERED, F.coalesce(F.col(n.MONTH_START) <= F.col("_last_order_month"), F.lit(False)))
            .drop("_last_order_month"))


def plan_configurations(marked_plan: DataFrame) -> DataFrame:
    """One configuration per plan row to explode: D = the month's first day, quantity = planned_units.

    config_id comes from monotonically_increasing_id: materialise before reuse.
    """
    return (marked_plan
            .where(~F.col(COVERED) & (F.col(n.PLANNED_UNITS) > 0))
            .select(F.monotonically_increasing_id().alias(n.CONFIG_ID), n.PLANT_ID, n.MODEL_ID,
                    F.col(n.MONTH_START).alias(n.PRODUCTION_DATE),
                    F.col(n.PLANNED_UNITS).cast(q.PLAN_UNITS).alias(n.CONFIG_QUANTITY)))
