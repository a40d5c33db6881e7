"""A run's Solr documents, as DataFrames of Solr field names: one per demand_summary row (doc_type
`demand`) and one per exception message (doc_type `exception`). Both live in the run's collection, so
one alias swap serves a night's demand and its exception messages together."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n

DEMAND, EXCEPTION = "demand", "exception"   # doc_type
DOC_FIELDS = ("id", "doc_type", n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET, n.BUCKET_START,
              "iso_week", n.QUANTITY, "quantity_exact")


def solr_documents(summary: DataFrame) -> DataFrame:
    """A stable id per (source, plant, part, bucket, bucket_start), so a re-publish overwrites, never duplicates."""
    doc_id = F.concat_ws("|", n.SOURCE, n.PLANT_ID, n.PART_ID, n.BUCKET, F.date_format(n.BUCKET_START, "yyyy-MM-dd"))
    iso_week = F.format_string("%d-W%02d", F.year(F.date_add(F.col(n.BUCKET_START), 3)),
                               F.weekofyear(n.BUCKET_START))
    return summary.select(
        doc_id.alias("id"), F.lit(DEMAND).alias("doc_type"), n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET,
        F.date_format(n.BUCKET_START, "yyyy-MM-dd'T'00:00:00'Z'").alias(n.BUCKET_START),
        F.when(F.col(n.BUCKET) == n.WEEK, iso_week).alias("iso_week"),
        F.col(n.QUANTITY).cast("double").alias(n.QUANTITY),
        F.col(n.QUANTITY).cast("string").alias("quantity_exact"))


EXCEPTION_FIELDS = ("id", "doc_type", n.RUN_ID, "kind", n.PLANT_ID, n.PART_ID, n.MODEL_ID, n.UNIT, n.BUCKET_START,
                    "quantity_exact", "previous_quantity_exact", "message")


def exception_documents(found: DataFrame) -> DataFrame:
    """exceptions rows -> Solr documents; the id is the row's key (kind, plant, part, model, date), prefixed
    `exception|` so it never meets a demand document's id."""
    doc_id = F.concat_ws("|", F.lit(EXCEPTION), "kind", n.PLANT_ID, n.PART_ID, F.coalesce(n.MODEL_ID, F.lit("")),
                         F.date_format(n.BUCKET_START, "yyyy-MM-dd"))
    return found.select(
        doc_id.alias("id"), F.lit(EXCEPTION).alias("doc_type"), n.RUN_ID, "kind", n.PLANT_ID, n.PART_ID, n.MODEL_ID,
        n.UNIT, F.date_format(n.BUCKET_START, "yyyy-MM-dd'T'00:00:00'Z'").alias(n.BUCKET_START),
        F.col(n.QUANTITY).cast("double").alias(n.QUANTITY),
        F.col(n.QUANTITY).cast("string").alias("quantity_exact"),
        F.col("previous_quantity").cast("string").alias("previous_quantity_exact"), "message")
