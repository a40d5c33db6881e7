"""StructTypes of every input and output table of the data contract."""
from pyspark.sql.types import (
    ArrayType, DateType, IntegerType, LongType, StringType, StructField, StructType,
    TimestampType,
)

from schemas import names as n
from schemas import quantities as q


def _schema(*fields: tuple) -> StructType:
    return StructType([StructField(name, dtype, nullable) for name, dtype, nullable in fields])


S, D, I, L = StringType(), DateType(), IntegerType(), LongType()

INPUTS = {
    n.PLANTS: _schema(
        (n.PLANT_ID, S, False), ("name", S, True), ("country", S, True), ("bpns", S, True)),
    n.VEHICLE_MODELS: _schema(
        (n.MODEL_ID, S, False), ("brand", S, True), ("name", S, True)),
    n.PARTS: _schema(
        (n.PART_ID, S, False), ("description", S, True), (n.PART_TYPE, S, True),
        (n.UNIT, S, True), (n.LEAD_TIME_DAYS, I, True), (n.SUPPLIER_ID, S, True)),
    n.BOM_ITEMS: _schema(
        (n.BOM_ITEM_ID, S, False), (n.PARENT_ID, S, True), (n.CHILD_ID, S, True),
        (n.QUANTITY, q.BOM_QUANTITY, True), (n.SCRAP_PCT, q.SCRAP_PCT, True),
        (n.VALID_FROM, D, True), (n.VALID_TO, D, True), (n.PLANT_ID, S, True), (n.RULE, S, True)),
    n.PRODUCTION_ORDERS: _schema(
        (n.ORDER_ID, S, False), (n.PLANT_ID, S, True), (n.MODEL_ID, S, True),
        (n.PRODUCTION_DATE, D, True), (n.OPTION_CODES, ArrayType(S, True), True),
        (n.QUANTITY, I, True)),
    n.VOLUME_PLAN: _schema(
        (n.PLANT_ID, S, False), (n.MODEL_ID, S, False), ("month", D, False),
        ("planned_units", q.PLAN_UNITS, True)),
    n.OPTION_TAKE_RATES: _schema(
        (n.MODEL_ID, S, False), ("month", D, False), ("option_code", S, False),
        ("family", S, True), ("take_rate", q.TAKE_RATE, True)),
}

PART_DEMAND = _schema(
    (n.RUN_ID, S, False), (n.SOURCE, S, False), (n.PLANT_ID, S, False), (n.MODEL_ID, S, False),
    (n.PART_ID, S, False), (n.PART_TYPE, S, False), (n.UNIT, S, True), (n.SUPPLIER_ID, S, True),
    (n.DEMAND_DATE, D, False), (n.ORDER_DATE, D, False), (n.QUANTITY, q.DEMAND, False),
    (n.CARRIED_FROM_RUN_ID, S, True))

DEMAND_SUMMARY = _schema(
    (n.RUN_ID, S, False), (n.SOURCE, S, False), (n.PLANT_ID, S, False), (n.PART_ID, S, False),
    (n.SUPPLIER_ID, S, True), (n.UNIT, S, True), (n.BUCKET, S, False),
    (n.BUCKET_START, D, False), (n.QUANTITY, q.DEMAND, False))

ORDER_SIGNATURES = _schema(   # pegging: one row per used order of the run (transforms/pegging.py)
    (n.ORDER_ID, S, False), (n.PLANT_ID, S, False), (n.MODEL_ID, S, False), (n.PRODUCTION_DATE, D, False),
    (n.QUANTITY, I, False), (n.SIGNATURE_ID, L, False))

SIGNATURES = _schema(   # pegging: what a signature's cars share (transforms/signatures.py), exploded again by `peg`
    (n.PLANT_ID, S, False), (n.MODEL_ID, S, False), (n.SIGNATURE_ID, L, False), (n.PRODUCTION_DATE, D, False),
    (n.TRUE_RULES, ArrayType(StringType(), False), False))

QUARANTINE = _schema(
    (n.RUN_ID, S, False), ("table_name", S, False), ("row_key", S, True),
    ("reason", S, False), ("detail", S, True), ("raw_json", S, True))

EXCEPTIONS = _schema(   # one row per (kind, plant, part, date): transforms/exceptions.py
    (n.RUN_ID, S, False), ("kind", S, False), (n.PLANT_ID, S, False), (n.PART_ID, S, False),
    (n.MODEL_ID, S, True), (n.UNIT, S, True), ("bucket_start", D, False), (n.QUANTITY, q.DEMAND, True),
    ("previous_quantity", q.DEMAND, True), ("message", S, False))

RUNS = _schema(
    (n.RUN_ID, S, False), ("run_date", D, False), ("started_at", TimestampType(), False),
    ("finished_at", TimestampType(), True), ("status", S, False), ("source_path", S, True),
    ("orders_read", LongType(), True), ("configurations", LongType(), True),
    ("levels", IntegerType(), True), ("part_demand_rows", LongType(), True),
    ("demand_summary_rows", LongType(), True), ("quarantine_rows", LongType(), True),
    ("gate_result", S, True), ("published_collection", S, True),
    ("error", S, True), ("metrics_json", S, True),
    ("blocked_models", S, True), ("carried_rows", LongType(), True),
    ("reconciliation_json", S, True), ("validation_docs", S, True), ("publish_status", S, True),
    # which code and configuration computed the row (null on rows of a bomflow before 0.2)
    ("bomflow_version", S, True), ("git_revision", S, True), ("config_sha256", S, True))

OUTPUTS = {
    n.PART_DEMAND: PART_DEMAND,
    n.DEMAND_SUMMARY: DEMAND_SUMMARY,
    n.QUARANTINE: QUARANTINE,
    n.EXCEPTIONS: EXCEPTIONS,
    n.RUNS: RUNS,
}
