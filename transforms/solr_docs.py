"""demand_summary rows -> Solr documents (one per row), as a DataFrame of Solr field names."""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n

DOC_FIELDS = ("id", n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET, n.BUCKET_START,
              "iso_week", n.QUANTITY, "quantity_exact")


def solr_documents(summary: DataFrame) -> DataFrame:
    """A stable id per (source, plant, part, bucket, bucket_start), so a re-publish overwrites, never duplicates."""
    doc_id = F.concat_ws("|", n.SOURCE, n.PLANT_ID, n.PART_ID, n.BUCKET, F.date_format(n.BUCKET_START, "yyyy-MM-dd"))
    iso_week = F.format_string("%d-W%02d", F.year(F.date_add(F.col(n.BUCKET_START), 3)),
                               F.weekofyear(n.BUCKET_START))
    return summary.select(
        doc_id.alias("id"), n.RUN_ID, n.SOURCE, n.PLANT_ID, n.PART_ID, n.SUPPLIER_ID, n.UNIT, n.BUCKET,
        F.date_format(n.BUCKET_START, "yyyy-MM-dd'T'00:00:00'Z'").alias(n.BUCKET_START),
        F.when(F.col(n.BUCKET) == n.WEEK, iso_week).alias("iso_week"),
        F.col(n.QUANTITY).cast("double").alias(n.QUANTITY),
        F.col(n.QUANTITY).cast("string").alias("quantity_exact"))
