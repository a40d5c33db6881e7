"""part_demand -> supplier demand series for Catena-X exchange (CX-0128 weekly, CX-0120 daily).

Pure DataFrame functions; jobs/export_catenax.py turns their rows into JSON documents.
Rules taken from ../shared/standards/catenax/README.md:
  * weekly buckets start on Monday (ISO week); demand already due before the
    export's first week (lead-time offsets reach into the past) is added to that
    first week, so nothing is lost and no week lies in the past;
  * purchased parts only (assemblies are built in-house, phantoms never have demand);
  * orders and plan are one series (the horizon rule keeps them apart), with
    demand category SR99 (series production);
  * one number everywhere: a plan row's demand sits where the contract puts it
    (the month explodes at its first day, lead-time offsets applied), and a
    week's quantity is exactly demand_summary's week bucket, the number Solr,
    `bomflow demand` and the planner's page show (docs/catenax.md "Plan demand
    per week"); only week 0 also holds what was due before it.
"""
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.summary import week_start

WEEK = "week"
DAY_COL = "day"


def purchased(part_demand: DataFrame) -> DataFrame:
    return part_demand.where(F.col(n.PART_TYPE) == n.PURCHASED)


def weekly_series(part_demand: DataFrame, first_week: date) -> DataFrame:
    """(supplier_id, part_id, unit, plant_id, week, quantity) summed over models and sources."""
    week = F.greatest(week_start(F.col(n.DEMAND_DATE)), F.lit(first_week))
    return (purchased(part_demand)
            .groupBy(n.SUPPLIER_ID, n.PART_ID, n.UNIT, n.PLANT_ID, week.alias(WEEK))
            .agg(F.sum(n.QUANTITY).alias(n.QUANTITY)))


def daily_series(part_demand: DataFrame, first_day: date, last_day: date) -> DataFrame:
    """(supplier_id, part_id, unit, plant_id, day, quantity) of order demand up to last_day; earlier days fold into first_day."""
    day = F.greatest(F.col(n.DEMAND_DATE), F.lit(first_day))
    return (purchased(part_demand)
            .where((F.col(n.SOURCE) == n.SOURCE_ORDERS) & (F.col(n.DEMAND_DATE) <= F.lit(last_day)))
            .groupBy(n.SUPPLIER_ID, n.PART_ID, n.UNIT, n.PLANT_ID, day.alias(DAY_COL))
            .agg(F.sum(n.QUANTITY).alias(n.QUANTITY)))


def with_master_data(series: DataFrame, plants: DataFrame, parts: DataFrame) -> DataFrame:
    """Adds the plant's BPNS and the part's description (left joins: a missing one is reported, not dropped)."""
    return (series
            .join(F.broadcast(plants.select(n.PLANT_ID, "bpns")), on=n.PLANT_ID, how="left")
            .join(F.broadcast(parts.select(n.PART_ID, "description")), on=n.PART_ID, how="left"))
