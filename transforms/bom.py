"""BOM edges prepared for explosion: child type, edge factor, lead-time offset, rule DNF."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from transforms.rules import rule_holds, rule_key


def edge_factor(quantity: Column, scrap_pct: Column) -> Column:
    """quantity * (1 + scrap_pct / 100), exact (scale 12) and typed EDGE_FACTOR."""
    percent = F.lit(0.01).cast("decimal(2,2)")
    scrap_factor = (F.lit(100).cast("decimal(3,0)") + F.coalesce(scrap_pct, F.lit(0)).cast(q.SCRAP_PCT)) * percent
    return (quantity.cast(q.BOM_QUANTITY) * scrap_factor).cast(q.EDGE_FACTOR)


def explosion_edges(bom_items: DataFrame, parts: DataFrame, rules: DataFrame) -> DataFrame:
    """Every usable BOM edge with what explosion needs.

    `parts` holds valid parts only, `rules` the valid rules (see rules.rule_table).
    parent_offset_days is the lead time the parent adds to its children's offset:
    its own lead time if it is an assembly, 0 for a phantom or a vehicle model.
    """
    child = parts.select(F.col(n.PART_ID).alias(n.CHILD_ID), F.col(n.PART_TYPE).alias(n.NODE_TYPE))
    parent = parts.select(
        F.col(n.PART_ID).alias(n.PARENT_ID),
        F.when(F.col(n.PART_TYPE) == n.ASSEMBLY, F.col(n.LEAD_TIME_DAYS)).otherwise(0).alias(n.PARENT_OFFSET))
    keyed = bom_items.withColumn(n.RULE, rule_key(F.col(n.RULE)))
    return (keyed
            .join(F.broadcast(child), on=n.CHILD_ID, how="inner")
            .join(F.broadcast(parent), on=n.PARENT_ID, how="left")
            .join(F.broadcast(rules), on=n.RULE, how="inner")
            .select(n.BOM_ITEM_ID, n.PARENT_ID, n.CHILD_ID, n.NODE_TYPE,
                    edge_factor(F.col(n.QUANTITY), F.col(n.SCRAP_PCT)).alias(n.EDGE_FACTOR),
                    F.coalesce(F.col(n.PARENT_OFFSET), F.lit(0)).alias(n.PARENT_OFFSET),
                    n.VALID_FROM, n.VALID_TO, F.col(n.PLANT_ID).alias("edge_plant_id"), n.RULE, n.RULE_TERMS, n.RULE_NUMBER))


def edge_in_effect(production_date: Column) -> Column:
    """valid_from <= D < valid_to; a null valid_from means "since always", a null valid_to "open"."""
    return (F.col(n.VALID_FROM).isNull() | (F.col(n.VALID_FROM) <= production_date)) & (
        F.col(n.VALID_TO).isNull() | (production_date < F.col(n.VALID_TO)))


def edge_for_plant(plant_id: Column) -> Column:
    return F.col("edge_plant_id").isNull() | (F.col("edge_plant_id") == plant_id)


def edge_is_effective(plant_id: Column, production_date: Column) -> Column:
    """Effective at the date and for the plant (the rule aside)."""
    return edge_in_effect(production_date) & edge_for_plant(plant_id)


def edge_is_active(plant_id: Column, production_date: Column, options: Column) -> Column:
    """Contract §Explosion 1: effective at the date, for the plant, rule true for the options."""
    return edge_is_effective(plant_id, production_date) & rule_holds(F.col(n.RULE_TERMS), options)
