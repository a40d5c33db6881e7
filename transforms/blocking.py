"""Blocked models (contract §Bad input): a model that reaches a quarantined bom_item gets no new demand.

Reachability ignores dates, plants and rules, so a BOM data error blocks every
model that could ever use it. The BOM structure is small and already on the
driver (cycle search), so this is a breadth-first walk per model there.
"""
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from schemas import names as n
from transforms.graph import reachable
from transforms.validate import PROBLEM_COLUMNS

MAX_CAUSES = 5


def bad_edges(problems: DataFrame) -> list[tuple[str, str, str]]:
    """(bom_item_id, parent_id, reason) of every quarantined bom_item."""
    rows = (problems.where(F.col("table_name") == n.BOM_ITEMS)
            .select("row_key", F.get_json_object("raw_json", "$.parent_id").alias(n.PARENT_ID), "reason")
            .collect())
    return [(r.row_key, r[n.PARENT_ID], r.reason) for r in rows]


def blocked_models(models: list[str], pairs: set[tuple[str, str]], bad: list[tuple[str, str, str]]) -> dict[str, str]:
    """model_id -> the cause (a sentence naming the quarantined bom_items it reaches)."""
    reach = reachable(pairs, models)
    blocked = {}
    for model in sorted(models):
        hits = sorted({(item, reason) for item, parent, reason in bad if parent in reach[model]})
        if hits:
            shown = ", ".join(f"{item} ({reason})" for item, reason in hits[:MAX_CAUSES])
            more = f" and {len(hits) - MAX_CAUSES} more" if len(hits) > MAX_CAUSES else ""
            blocked[model] = f"model {model} reaches quarantined bom_item(s) {shown}{more}"
    return blocked


def blocked_frame(df: DataFrame, blocked: dict[str, str]) -> DataFrame:
    schema = StructType([StructField(n.MODEL_ID, StringType(), False), StructField("cause", StringType(), False)])
    return df.sparkSession.createDataFrame(sorted(blocked.items()), schema)


def split_blocked(orders: DataFrame, blocked: DataFrame, table: str, key: tuple[str, ...]) -> tuple[DataFrame, DataFrame]:
    """(rows of unblocked models, model_blocked problem rows) of clean `orders`-like rows."""
    columns = orders.columns
    marked = orders.join(F.broadcast(blocked), on=n.MODEL_ID, how="left")
    problems = marked.where(F.col("cause").isNotNull()).select(
        F.lit(table).alias("table_name"),
        F.concat_ws("|", *[F.col(k).cast("string") for k in key]).alias("row_key"),
        F.lit(n.MODEL_BLOCKED).alias("reason"), F.col("cause").alias("detail"),
        F.to_json(F.struct(*columns)).alias("raw_json"))
    return marked.where(F.col("cause").isNull()).select(*columns), problems.select(*PROBLEM_COLUMNS)
