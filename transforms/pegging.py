"""Pegging: which orders make up a part's demand (issue 17).

A night keeps two tables for it, beside part_demand:
  * order_signatures: each used order (plant, model, production date, quantity) with the id of its
    variant signature (transforms/signatures.py; deterministic, so the same order on the same BOM
    has the same id in every run);
  * signatures: each exploded signature's plant, model, first production date and true rules.

The night's explosion does not keep one car's need per part: below each node its frontier merges the
cars the BOM can no longer tell apart (transforms/explode.py, issue 14), which is what makes it
scale. `bomflow peg` asks for one part at one plant, so it explodes again, per signature, only the
part's where-used sub-structure of the run's own BOM copy (signature_needs): what one car of each
signature needs of the part, per lead-time offset. An order's quantity of the part on a demand date
is its quantity x that need; summed over a week's orders it is the week's order demand in part_demand
(the two are summed in a different order, so they agree to the engine's rounding, 1e-17 per level).
Carried rows of blocked models have no orders in the run that carried them (their orders were
quarantined): they are pegged in the run that computed them.
"""
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from schemas.tables import ORDER_SIGNATURES, SIGNATURES
from transforms.explode import explode
from transforms.graph import reachable
from transforms.signatures import BY_SIGNATURE
from transforms.summary import week_start


def order_signature_rows(signed: DataFrame) -> DataFrame:
    """Each used order's signature (Signatures.signed, from the night's one kernel pass) -> ORDER_SIGNATURES rows."""
    return signed.select(*[F.col(f.name).cast(f.dataType) for f in ORDER_SIGNATURES.fields])


def signature_rows(signatures: DataFrame) -> DataFrame:
    """The exploded signatures (config_id = signature id) -> SIGNATURES rows."""
    return signatures.withColumnRenamed(n.CONFIG_ID, n.SIGNATURE_ID).select(
        *[F.col(f.name).cast(f.dataType) for f in SIGNATURES.fields])


def where_used_edges(edges: DataFrame, part: str) -> DataFrame:
    """The explosion edges on some path from a model to `part` (its ancestors' edges into ancestors or `part`)."""
    upward = ((child, parent) for parent, child in edges.select(n.PARENT_ID, n.CHILD_ID).distinct().collect())
    keep = reachable(upward, [part])[part]   # the part and every node above it
    return edges.where(F.col(n.CHILD_ID).isin(*sorted(keep)))


def signature_needs(signatures: DataFrame, edges: DataFrame, part: str, max_depth: int) -> DataFrame:
    """(plant, model, signature_id, part_id, offset_days, per_unit): one car's need of `part` per signature,
    exploded over `part`'s where-used edges only. Not summed over depths: a part reached at two depths with
    the same offset keeps two rows, as the engine's arithmetic does."""
    configs = signatures.withColumnRenamed(n.SIGNATURE_ID, n.CONFIG_ID)
    exploded = explode(configs, where_used_edges(edges, part), max_depth, BY_SIGNATURE).demand
    where = F.broadcast(configs.select(n.CONFIG_ID, n.PLANT_ID, n.MODEL_ID))
    return (exploded.where(F.col(n.PART_ID) == part)
            .join(where, on=n.CONFIG_ID, how="inner")
            .select(n.PLANT_ID, n.MODEL_ID, F.col(n.CONFIG_ID).alias(n.SIGNATURE_ID), n.PART_ID, n.OFFSET_DAYS,
                    n.PER_UNIT))


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
