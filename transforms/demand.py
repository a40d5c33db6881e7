"""Exploded configurations -> part_demand rows (contract §Explosion 4-5)."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from schemas.tables import PART_DEMAND

DEMAND_KEY = (n.PLANT_ID, n.MODEL_ID, n.PART_ID, n.DEMAND_DATE)
FILE_PARTITIONS = (n.PLANT_ID, n.MODEL_ID)   # part_demand's Delta partitions (folders)


def by_file_partition(part_demand: DataFrame) -> DataFrame:
    """part_demand laid out as its Delta write wants it: each (plant, model) in one task, sorted by source,
    part and date inside. The write then opens one file per (plant, model) instead of one per task and
    (plant, model) (8 tasks x 126 folders at the realistic profile) and need not sort again; files sorted
    by part keep Delta's per-file part_id ranges narrow (data skipping for a part's questions).
    The task count is bounded by the number of (plant, model): about 120 for the networks we know."""
    return (part_demand.repartition(*FILE_PARTITIONS)
            .sortWithinPartitions(*FILE_PARTITIONS, n.SOURCE, n.PART_ID, n.DEMAND_DATE))


def demand_by_date(config_demand: DataFrame, configs: DataFrame) -> DataFrame:
    """Per (plant, model, part, demand_date): sum over configurations of quantity x per-unit need."""
    context = configs.select(n.CONFIG_ID, n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.CONFIG_QUANTITY)
    return (config_demand
            .join(context, on=n.CONFIG_ID, how="inner")
            .select(n.PLANT_ID, n.MODEL_ID, n.PART_ID,
                    F.date_sub(F.col(n.PRODUCTION_DATE), F.col(n.OFFSET_DAYS)).alias(n.DEMAND_DATE),
                    (F.col(n.CONFIG_QUANTITY) * F.col(n.PER_UNIT)).alias(n.QUANTITY))
            .groupBy(*DEMAND_KEY)
            .agg(F.sum(n.QUANTITY).cast(q.DEMAND).alias(n.QUANTITY)))


def part_demand(demand: DataFrame, parts: DataFrame, run_id: str, source: str) -> DataFrame:
    """Add part attributes and order_date = demand_date - the part's own lead time."""
    attributes = parts.select(n.PART_ID, n.PART_TYPE, n.UNIT, n.SUPPLIER_ID, n.LEAD_TIME_DAYS)
    return (demand
            .join(F.broadcast(attributes), on=n.PART_ID, how="inner")
            .select(F.lit(run_id).alias(n.RUN_ID), F.lit(source).alias(n.SOURCE),
                    n.PLANT_ID, n.MODEL_ID, n.PART_ID, n.PART_TYPE, n.UNIT, n.SUPPLIER_ID, n.DEMAND_DATE,
                    F.date_sub(F.col(n.DEMAND_DATE), F.col(n.LEAD_TIME_DAYS)).alias(n.ORDER_DATE),
                    n.QUANTITY, F.lit(None).cast("string").alias(n.CARRIED_FROM_RUN_ID))
            .select(*[F.col(f.name).cast(f.dataType) for f in PART_DEMAND.fields]))


def carried_demand(previous: DataFrame, blocked_models: list[str], run_id: str) -> DataFrame:
    """The previous run's rows (orders and plan) of blocked models, kept (stale) so a BOM error never looks like a demand drop.

    carried_from_run_id names the run that computed them; rows carried twice keep the original.
    """
    return (previous
            .where(F.col(n.MODEL_ID).isin(*blocked_models))
            .withColumn(n.CARRIED_FROM_RUN_ID, F.coalesce(F.col(n.CARRIED_FROM_RUN_ID), F.col(n.RUN_ID)))
            .withColumn(n.RUN_ID, F.lit(run_id))
            .select(*[F.col(f.name).cast(f.dataType) for f in PART_DEMAND.fields]))
