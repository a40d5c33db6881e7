"""Small tables built on the driver (rules, blocked models, probabilities) as frames held by the JVM.

`spark.createDataFrame(list)` in classic PySpark is a Python RDD: every query
that reads it starts Python worker tasks again to unpickle the rows (0.3-0.6 s
per read on a warm local session, the largest single cost of a small night).
The engine reads its driver-built tables in many queries, so they are made here
from one JSON literal parsed by Spark's own JSON reader: no Python worker, on
a cluster as locally. Values round-trip exactly: decimals travel as their
decimal text, dates as ISO dates.

A table whose JSON would exceed MAX_LITERAL_BYTES (a literal rides in every
task's plan) is made the classic way and checkpointed once instead: one Python
job, then JVM blocks.
"""
import json
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DataType, StructType

MAX_LITERAL_BYTES = 4 * 1024 * 1024


def local_frame(spark: SparkSession, rows: list, schema: StructType) -> DataFrame:
    """rows (tuples or Rows in schema order, or dicts by field name) as a frame of `schema`'s columns and types."""
    text = json.dumps([_plain(row, schema) for row in rows], ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_LITERAL_BYTES:
        return spark.createDataFrame(rows, schema).localCheckpoint(eager=True)
    # the types are schema's; every field comes back nullable (from_json never promises non-null)
    return spark.range(1).select(F.inline(F.from_json(F.lit(text), ArrayType(schema))))


def _plain(value, data_type: DataType):
    """value as JSON-ready Python following data_type (structs by field name, so nested Rows survive)."""
    if value is None:
        return None
    if isinstance(data_type, StructType):
        names = data_type.fieldNames()
        if hasattr(value, "asDict"):   # a collected Row: by its own field names
            value = value.asDict()
        pairs = value.items() if isinstance(value, dict) else zip(names, value)
        types = {f.name: f.dataType for f in data_type.fields}
        return {name: _plain(v, types[name]) for name, v in pairs}
    if isinstance(data_type, ArrayType):
        return [_plain(v, data_type.elementType) for v in value]
    if isinstance(value, Decimal):
        return str(value)   # Spark's JSON reader parses a decimal string into DecimalType exactly
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
