"""Pegging: which orders make up a part's demand (issue 17).

A night keeps two tables for it, beside part_demand:
  * order_signatures: each used order (plant, model, production date, quantity) with the id of its
    variant signature (transforms/signatures.py; deterministic, so the same order on the same BOM
    has the same id in every run);
  * signature_needs: what one car of each exploded signature needs, per part and lead-time offset
    (the explosion's own result, before it is multiplied back by the dated signatures).

An order's quantity of a part on a demand date is then its quantity x the signature's need, with
the engine's types (CONFIG_QTY x PER_UNIT); summed over a week's orders it is the week's order
demand in part_demand. Carried rows of blocked models have no orders in the run that carried them
(their orders were quarantined): they are pegged in the run that computed them.
"""
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from schemas.tables import ORDER_SIGNATURES, SIGNATURE_NEEDS
from transforms.configurations import normalise_options
from transforms.signatures import with_signature
from transforms.summary import week_start


def order_signature_rows(orders: DataFrame, rules_by_model: DataFrame) -> DataFrame:
    """Used orders -> ORDER_SIGNATURES rows (one pass over the orders, a broadcast join, no shuffle)."""
    return (orders.transform(normalise_options)
            .transform(lambda o: with_signature(o, rules_by_model))
            .select(*[F.col(f.name).cast(f.dataType) for f in ORDER_SIGNATURES.fields]))


def signature_need_rows(exploded: DataFrame, signatures: DataFrame) -> DataFrame:
    """The explosion's (config_id, part_id, offset_days, per_unit) with the signature's plant and model.

    Not summed: a part reached at two depths with the same offset keeps two rows, exactly as
    demand_by_date multiplies them, so pegged quantities round as part_demand does."""
    where = F.broadcast(signatures.select(n.CONFIG_ID, n.PLANT_ID, n.MODEL_ID))
    return (exploded.join(where, on=n.CONFIG_ID, how="inner")
            .withColumnRenamed(n.CONFIG_ID, n.SIGNATURE_ID)
            .select(*[F.col(f.name).cast(f.dataType) for f in SIGNATURE_NEEDS.fields]))


def pegged_orders(order_signatures: DataFrame, signature_needs: DataFrame, plant: str, part: str,
                  week: date) -> DataFrame:
    """(order_id, model_id, production_date, demand_date, order quantity, quantity of `part`) of every order
    whose demand for `part` at `plant` falls in the ISO week starting `week` (one row per order and date)."""
    needs = signature_needs.where((F.col(n.PLANT_ID) == plant) & (F.col(n.PART_ID) == part))
    orders = order_signatures.where(F.col(n.PLANT_ID) == plant)
    demand_date = F.date_sub(F.col(n.PRODUCTION_DATE), F.col(n.OFFSET_DAYS))
    return (orders.join(F.broadcast(needs), on=[n.PLANT_ID, n.MODEL_ID, n.SIGNATURE_ID], how="inner")
            .withColumn(n.DEMAND_DATE, demand_date)
            .where(week_start(F.col(n.DEMAND_DATE)) == F.lit(week))
            .withColumn("part_quantity", F.col(n.QUANTITY).cast(q.CONFIG_QTY) * F.col(n.PER_UNIT))
            .groupBy(n.ORDER_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.DEMAND_DATE, F.col(n.QUANTITY).alias("order_quantity"))
            .agg(F.sum("part_quantity").cast(q.DEMAND).alias(n.QUANTITY)))
