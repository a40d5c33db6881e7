"""Row checks as data, applied in one pass per table (the dqx pattern: checks as metadata, one apply, two halves).

`annotate` adds one column, _failures: the array of (reason, detail) of every
check a row fails, key checks first. A row with none is clean; every other row
becomes exactly one problem row whose reason is its first failure and whose
detail names them all. So rows read = clean rows + problem rows, exactly; the
caller persists the annotated frame once and reads both halves and the counts
from it.

Duplicate keys are found from the keys alone (a grouped count of the key
columns, joined back), never with a window over whole rows.
"""
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, StringType, StructField, StructType

from schemas import names as n
from transforms.local import local_frame

PROBLEM_COLUMNS = ("table_name", "row_key", "reason", "detail", "raw_json")
FAILURES = "_failures"
REASON = "_reason"          # the first failure's reason, null for a clean row
KEYS = {
    n.PLANTS: (n.PLANT_ID,),
    n.VEHICLE_MODELS: (n.MODEL_ID,),
    n.PARTS: (n.PART_ID,),
    n.BOM_ITEMS: (n.BOM_ITEM_ID,),
    n.PRODUCTION_ORDERS: (n.ORDER_ID,),
    n.VOLUME_PLAN: (n.PLANT_ID, n.MODEL_ID, n.MONTH_START),
    n.OPTION_TAKE_RATES: (n.MODEL_ID, n.MONTH_START, n.OPTION_CODE),
}
_COPIES = "_key_copies"


@dataclass(frozen=True)
class Check:
    reason: str
    failed: Column      # must be true/false, never null, for a row that fails/passes
    detail: Column


def fmt(template: str, *cols: Column) -> Column:
    """format_string with "null" for null arguments."""
    return F.format_string(template, *[F.coalesce(c.cast("string"), F.lit("null")) for c in cols])


def flag(df: DataFrame, lookup: DataFrame, left: str, right: str, name: str) -> DataFrame:
    """df with boolean `name`: does df.left occur as lookup.right? (lookup is small: broadcast)"""
    marks = lookup.select(F.col(right).alias(left), F.lit(True).alias(name)).distinct()
    return df.join(F.broadcast(marks), on=left, how="left").fillna(False, subset=[name])


MAX_LITERAL_KEYS = 10_000   # a driver-side lookup up to this size rides in the query as a map literal


def with_lookup(df: DataFrame, column: str, mapping: dict, name: str, value_type: DataType = StringType()) -> DataFrame:
    """df with `name` = mapping[df.column] (null where the key is absent or null).

    The mapping is already on the driver (valid plants and models, blocked models, invalid rules, cycle
    edges): up to MAX_LITERAL_KEYS entries it is a map literal in the row's own projection, so the lookup
    costs no join and no Spark job (a broadcast join is one job per query that uses it); a larger one is
    broadcast-joined as a local frame."""
    mapping = {key: value for key, value in mapping.items() if key is not None}
    if not mapping:
        return df.withColumn(name, F.lit(None).cast(value_type))
    if len(mapping) <= MAX_LITERAL_KEYS:
        literal = F.create_map(*[F.lit(v) for key in sorted(mapping) for v in (key, mapping[key])])
        return df.withColumn(name, F.try_element_at(literal, F.col(column)).cast(value_type))
    schema = StructType([StructField(column, StringType(), False), StructField(name, value_type, True)])
    frame = local_frame(df.sparkSession, sorted(mapping.items()), schema)
    return df.join(F.broadcast(frame), on=column, how="left")


def mark_known(df: DataFrame, column: str, known: list[str], name: str) -> DataFrame:
    """df with boolean `name`: is df.column one of `known` (a driver-side list: with_lookup)?"""
    return (with_lookup(df, column, dict.fromkeys(known, True), name, BooleanType())
            .withColumn(name, F.coalesce(F.col(name), F.lit(False))))


def key_copies(df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """(keys..., _key_copies) of every key that occurs more than once: computed from the key columns alone."""
    present = F.lit(True)
    for key in keys:
        present = present & F.col(key).isNotNull()
    # fresh attributes (alias), so a join back to df never self-joins one lineage: with adaptive
    # execution off, a checkpointed copy of df's own key attributes cannot be told apart from df's
    return (df.where(present).select(*[F.col(k).alias(k) for k in keys]).groupBy(*keys)
            .agg(F.count(F.lit(1)).alias(_COPIES)).where(F.col(_COPIES) > 1))


def with_key_checks(df: DataFrame, keys: tuple[str, ...],
                    max_broadcast: int | None = None) -> tuple[DataFrame, list[Check]]:
    """df joined with its duplicated keys, and the two key checks (null key part; duplicated key).

    The duplicated keys are broadcast, so df itself is never shuffled for the check. For a large table
    (max_broadcast given) they are materialised and counted first: more than max_broadcast of them
    (a broken extract) are shuffle-joined instead of overflowing the broadcast."""
    missing = F.lit(False)
    for key in keys:
        missing = missing | F.col(key).isNull()
    copies = key_copies(df, keys)
    if max_broadcast is not None:
        copies = copies.localCheckpoint(eager=True)
    if max_broadcast is None or copies.count() <= max_broadcast:
        copies = F.broadcast(copies)
    joined = df.join(copies, on=list(keys), how="left")
    return joined, [Check(n.MISSING_KEY, missing, F.lit(f"key ({', '.join(keys)}) has a null part")),
                    Check(n.DUPLICATE_KEY, F.col(_COPIES).isNotNull(), fmt("%s rows share this key", F.col(_COPIES)))]


def annotate(df: DataFrame, table: str, checks: list[Check], columns: list[str],
             last: Check | None = None, max_broadcast_keys: int | None = None) -> DataFrame:
    """`columns` of df plus _failures and _reason under the key checks and `checks`.

    `last` (model_blocked) counts only for rows that pass every other check: a
    row with its own defect is quarantined for that defect.
    """
    joined, key_checks = with_key_checks(df, KEYS[table], max_broadcast_keys)
    failures = F.filter(F.array(*[F.when(c.failed, F.struct(F.lit(c.reason).alias("reason"), c.detail.alias("detail")))
                                  for c in key_checks + checks]), lambda f: f.isNotNull())
    annotated = joined.withColumn(FAILURES, failures)   # the checks' helper columns stay until the last select
    if last is not None:
        own = F.col(FAILURES)
        blocked = F.array(F.struct(F.lit(last.reason).alias("reason"), last.detail.alias("detail")))
        annotated = annotated.withColumn(FAILURES, F.when((F.size(own) == 0) & last.failed, blocked).otherwise(own))
    return annotated.withColumn(REASON, F.get(F.col(FAILURES), 0)["reason"]).select(*columns, FAILURES, REASON)


def clean_rows(annotated: DataFrame, columns: list[str]) -> DataFrame:
    return annotated.where(F.col(REASON).isNull()).select(*columns)


def problem_rows(annotated: DataFrame, table: str, columns: list[str]) -> DataFrame:
    """One problem row (PROBLEM_COLUMNS) per row that failed a check."""
    keys = KEYS[table]
    every_failure = F.transform(FAILURES, lambda f: F.concat(f["reason"], F.lit(": "), f["detail"]))
    return annotated.where(F.col(REASON).isNotNull()).select(
        F.lit(table).alias("table_name"),
        F.concat_ws("|", *[F.coalesce(F.col(k).cast("string"), F.lit("")) for k in keys]).alias("row_key"),
        F.col(REASON).alias("reason"),
        F.when(F.size(FAILURES) == 1, F.col(FAILURES)[0]["detail"])
         .otherwise(F.concat_ws("; ", every_failure)).alias("detail"),
        F.to_json(F.struct(*columns)).alias("raw_json"))
