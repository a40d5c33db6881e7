"""Row checks of the data contract (§Bad input) for the master data, the BOM and the orders.

Each function returns the table annotated in one pass (transforms/row_checks.py):
its own columns plus the failures of every check. Reference checks look up the
*clean* rows of the referenced table, so an edge pointing at a quarantined part
is itself a problem, never silently dropped. The plan tables are checked in
validate_plan.py.
"""
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType

from schemas import names as n
from transforms.row_checks import Check, annotate, flag, fmt, mark_known, with_lookup
from transforms.rules import CODE_PATTERN, rule_key

BLOCKED_CAUSE = "_blocked_cause"
MAX_BROADCAST_DUPLICATES = 1_000_000   # duplicated order keys broadcast to the check (more: shuffle-joined)


def blocked_check(table: str) -> Check:
    """model_blocked: the row is clean but its model reaches a quarantined bom_item (needs BLOCKED_CAUSE)."""
    return Check(n.MODEL_BLOCKED, F.col(BLOCKED_CAUSE).isNotNull(), F.col(BLOCKED_CAUSE))


def with_blocked_cause(df: DataFrame, blocked: dict[str, str]) -> DataFrame:
    """df with BLOCKED_CAUSE: the cause of its model's blocking (blocked: model_id -> cause), null for others."""
    return with_lookup(df, n.MODEL_ID, blocked, BLOCKED_CAUSE)


def check_plants(plants: DataFrame) -> DataFrame:
    return annotate(plants, n.PLANTS, [], plants.columns)


def check_models(models: DataFrame) -> DataFrame:
    return annotate(models, n.VEHICLE_MODELS, [], models.columns)


def check_parts(parts: DataFrame) -> DataFrame:
    part_type, lead = F.col(n.PART_TYPE), F.col(n.LEAD_TIME_DAYS)
    supplier = F.trim(F.coalesce(F.col(n.SUPPLIER_ID), F.lit("")))
    checks = [
        Check(n.UNKNOWN_PART_TYPE, part_type.isNull() | ~part_type.isin(*n.PART_TYPES),
              fmt("part_type '%s' is not one of " + "/".join(n.PART_TYPES), part_type)),
        Check(n.PURCHASED_WITHOUT_SUPPLIER, (part_type == n.PURCHASED) & (supplier == ""),
              F.lit("purchased part without supplier_id")),
        Check(n.INVALID_LEAD_TIME, lead.isNull() | (lead < 0), fmt("lead_time_days %s is not >= 0", lead)),
        Check(n.UNKNOWN_UNIT, F.col(n.UNIT).isNull() | ~F.col(n.UNIT).isin(*n.UNITS),
              fmt("unit '%s' is not one of " + "/".join(n.UNITS), F.col(n.UNIT))),
    ]
    return annotate(parts, n.PARTS, checks, parts.columns)


DATE_MIN, DATE_MAX = "2000-01-01", "2100-12-31"   # dates outside are typos (or epoch defaults), never plans
MAX_EDGE_FACTOR = 10 ** 10                         # schemas/quantities.py: EDGE_FACTOR holds 10 integer digits


def date_check(*columns: str) -> Check:
    """date_out_of_range for the first of `columns` outside [DATE_MIN, DATE_MAX] (nulls are other checks')."""
    def outside(c):
        return F.coalesce((F.col(c) < F.lit(DATE_MIN).cast("date")) | (F.col(c) > F.lit(DATE_MAX).cast("date")),
                          F.lit(False))
    condition, detail = F.lit(False), F.lit(None).cast("string")
    for c in reversed(columns):
        detail = F.when(outside(c), fmt(f"{c} %s is outside {DATE_MIN}..{DATE_MAX}", F.col(c))).otherwise(detail)
        condition = condition | outside(c)
    return Check(n.DATE_OUT_OF_RANGE, condition, detail)


EDGE_KEY = "_edge_key"


def edge_key(parent: str, child: str) -> str:
    """One string per (parent_id, child_id), as edge_key_column spells it."""
    return f"{parent}\u0000{child}"


def edge_key_column() -> Column:
    return F.concat(F.col(n.PARENT_ID), F.lit("\u0000"), F.col(n.CHILD_ID))


def check_bom_items(bom_items: DataFrame, clean_parts: DataFrame, clean_models: DataFrame,
                    invalid_rules: list[tuple[str, str]], cycle_pairs: set[tuple[str, str]]) -> DataFrame:
    columns = bom_items.columns
    nodes = clean_parts.select(F.col(n.PART_ID).alias(n.PARENT_ID), F.col(n.PART_TYPE).alias("_parent_type")).unionByName(
        clean_models.select(F.col(n.MODEL_ID).alias(n.PARENT_ID), F.lit(n.MODEL).alias("_parent_type")))
    joined = (bom_items
              .withColumn("_rule_key", rule_key(F.col(n.RULE)))
              .join(F.broadcast(nodes), on=n.PARENT_ID, how="left")
              .transform(lambda df: flag(df, clean_parts, n.CHILD_ID, n.PART_ID, "_child_known"))
              .transform(lambda df: with_lookup(df, "_rule_key", dict(invalid_rules), "rule_error"))
              .withColumn(EDGE_KEY, edge_key_column())
              .transform(lambda df: with_lookup(df, EDGE_KEY, {edge_key(p, c): True for p, c in cycle_pairs},
                                                "_on_cycle", BooleanType())))
    quantity, scrap = F.col(n.QUANTITY), F.coalesce(F.col(n.SCRAP_PCT), F.lit(0))
    valid_from, valid_to = F.col(n.VALID_FROM), F.col(n.VALID_TO)
    checks = [
        Check(n.UNKNOWN_PARENT, F.col("_parent_type").isNull(),
              fmt("parent_id '%s' is neither a vehicle model nor a valid part", F.col(n.PARENT_ID))),
        Check(n.PURCHASED_PARENT, F.col("_parent_type") == n.PURCHASED,
              fmt("parent_id '%s' is a purchased part and cannot have children", F.col(n.PARENT_ID))),
        Check(n.UNKNOWN_CHILD, ~F.col("_child_known"), fmt("child_id '%s' is not a valid part", F.col(n.CHILD_ID))),
        Check(n.NON_POSITIVE_QUANTITY, quantity.isNull() | (quantity <= 0), fmt("quantity %s is not > 0", quantity)),
        Check(n.SCRAP_OUT_OF_RANGE, (scrap < 0) | (scrap >= 100), fmt("scrap_pct %s is outside [0, 100)", scrap)),
        Check(n.INVALID_VALIDITY, valid_from.isNotNull() & valid_to.isNotNull() & (valid_to <= valid_from),
              fmt("valid_to %s is not after valid_from %s", valid_to, valid_from)),
        date_check(n.VALID_FROM, n.VALID_TO),
        Check(n.QUANTITY_TOO_LARGE, F.coalesce(quantity * (F.lit(100) + scrap) >= F.lit(MAX_EDGE_FACTOR * 100), F.lit(False)),
              fmt(f"quantity %s with scrap_pct %s reaches the engine's bound of {MAX_EDGE_FACTOR:.0e} per edge",
                  quantity, scrap)),
        Check(n.INVALID_RULE, F.col("rule_error").isNotNull(), fmt("rule '%s': %s", F.col(n.RULE), F.col("rule_error"))),
        Check(n.CYCLE, F.coalesce(F.col("_on_cycle"), F.lit(False)),
              fmt("edge %s -> %s lies on a cycle of the BOM", F.col(n.PARENT_ID), F.col(n.CHILD_ID))),
    ]
    return annotate(joined, n.BOM_ITEMS, checks, columns)


def check_orders(orders: DataFrame, plants: list[str], models: list[str], blocked: dict[str, str]) -> DataFrame:
    """plants, models: the valid plant and model ids; blocked: model_id -> cause."""
    columns = orders.columns
    joined = (orders
              .transform(lambda df: mark_known(df, n.PLANT_ID, plants, "_plant_known"))
              .transform(lambda df: mark_known(df, n.MODEL_ID, models, "_model_known"))
              .transform(lambda df: with_blocked_cause(df, blocked)))
    quantity, options = F.col(n.QUANTITY), F.coalesce(F.col(n.OPTION_CODES), F.array().cast("array<string>"))
    # an order whose option list is unknown would switch on every `!X` edge: quarantined, never guessed
    malformed = F.exists(options, lambda c: c.isNull() | ~c.rlike(f"^{CODE_PATTERN.pattern}$"))
    checks = [
        Check(n.UNKNOWN_PLANT, ~F.col("_plant_known"), fmt("plant_id '%s' is not a valid plant", F.col(n.PLANT_ID))),
        Check(n.UNKNOWN_MODEL, ~F.col("_model_known"), fmt("model_id '%s' is not a valid model", F.col(n.MODEL_ID))),
        Check(n.INVALID_QUANTITY, quantity.isNull() | (quantity < 1), fmt("quantity %s is not >= 1", quantity)),
        Check(n.MISSING_DATE, F.col(n.PRODUCTION_DATE).isNull(), F.lit("production_date is null")),
        date_check(n.PRODUCTION_DATE),
        Check(n.MISSING_OPTION_CODES, F.col(n.OPTION_CODES).isNull(),
              F.lit("option_codes is null (an order without options has an empty list)")),
        Check(n.MALFORMED_OPTION_CODE, malformed,
              fmt("option_codes %s hold a code outside [A-Z0-9]{2,12}", F.to_json(options))),
    ]
    return annotate(joined, n.PRODUCTION_ORDERS, checks, columns, last=blocked_check(n.PRODUCTION_ORDERS),
                    max_broadcast_keys=MAX_BROADCAST_DUPLICATES)
