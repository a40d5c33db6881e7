"""part_demand -> demand_summary: per plant and part, summed over models, in day/week/month buckets."""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q

SUMMARY_KEY = (n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET, n.BUCKET_START)


def week_start(day: Column) -> Column:
    """The Monday of day's ISO week: the week bucket everywhere (summary, Solr, Catena-X, pegging, diff)."""
    return F.to_date(F.date_trunc("week", day))


def bucket_starts(day):
    """(bucket, bucket_start) for each bucket: the day itself, its ISO week's Monday, its month's 1st."""
    return F.array(
        F.struct(F.lit(n.DAY).alias(n.BUCKET), day.alias(n.BUCKET_START)),
        F.struct(F.lit(n.WEEK).alias(n.BUCKET), week_start(day).alias(n.BUCKET_START)),
        F.struct(F.lit(n.MONTH).alias(n.BUCKET), F.trunc(day, "month").alias(n.BUCKET_START)),
    )


def demand_summary(part_demand: DataFrame) -> DataFrame:
    bucketed = part_demand.select(
        n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.QUANTITY,
        F.inline(bucket_starts(F.col(n.DEMAND_DATE))))
    return (bucketed
            .groupBy(*SUMMARY_KEY)
            .agg(F.sum(n.QUANTITY).cast(q.DEMAND).alias(n.QUANTITY))
            .select(*SUMMARY_KEY, n.QUANTITY))
