"""Production orders -> vehicle configurations.

Orders that share (plant, model, production date, option set) need the same
parts, so they are exploded once as one configuration and multiplied back by
the configuration's total quantity.
"""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q

CONFIG_KEY = (n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.OPTION_CODES)


def normalise_options(orders: DataFrame) -> DataFrame:
    """Option codes as a sorted, duplicate-free array; null means no options."""
    options = F.array_sort(F.array_distinct(F.coalesce(F.col(n.OPTION_CODES), F.array().cast("array<string>"))))
    return orders.select(n.ORDER_ID, n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE,
                         options.alias(n.OPTION_CODES), n.QUANTITY)


def configuration_totals(orders: DataFrame) -> DataFrame:
    """One row per distinct configuration (CONFIG_KEY) with its summed quantity and its number of orders."""
    return (orders.transform(normalise_options)
            .groupBy(*CONFIG_KEY)
            .agg(F.sum(n.QUANTITY).cast(q.CONFIG_QTY).alias(n.CONFIG_QUANTITY),
                 F.count(F.lit(1)).alias("orders")))


def configurations(orders: DataFrame) -> DataFrame:
    """configuration_totals with a unique config_id.

    config_id comes from monotonically_increasing_id: callers must materialise
    the result (checkpoint) before using the id in more than one plan.
    """
    return orders.transform(configuration_totals).select(
        F.monotonically_increasing_id().alias(n.CONFIG_ID), *CONFIG_KEY, n.CONFIG_QUANTITY, "orders")
