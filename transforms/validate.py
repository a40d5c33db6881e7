"""Row checks of the data contract (§Bad input): every input row is clean or a problem row.

Each table is annotated in one pass with the array of (reason, detail) of the
checks it fails; rows with none are clean, each other row becomes exactly one
problem row (table_name, row_key, reason, detail, raw_json): reason is its first
failed check (key checks first), detail names every failure. So rows read =
clean rows + problem rows, exactly.
Reference checks look up the *clean* rows of the referenced table, so an edge
pointing at a quarantined part is itself a problem, never silently dropped.
"""
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

from schemas import names as n
from transforms.rules import CODE_PATTERN, rule_key

PROBLEM_COLUMNS = ("table_name", "row_key", "reason", "detail", "raw_json")
KEYS = {
    n.PLANTS: (n.PLANT_ID,),
    n.VEHICLE_MODELS: (n.MODEL_ID,),
    n.PARTS: (n.PART_ID,),
    n.BOM_ITEMS: (n.BOM_ITEM_ID,),
    n.PRODUCTION_ORDERS: (n.ORDER_ID,),
    n.VOLUME_PLAN: (n.PLANT_ID, n.MODEL_ID, n.MONTH_START),
    n.OPTION_TAKE_RATES: (n.MODEL_ID, n.MONTH_START, n.OPTION_CODE),
}


@dataclass(frozen=True)
class Check:
    reason: str
    failed: Column      # must be true/false, never null, for a row that fails/passes
    detail: Column


def _fmt(template: str, *cols: Column) -> Column:
    return F.format_string(template, *[F.coalesce(c.cast("string"), F.lit("null")) for c in cols])


def key_checks(keys: tuple[str, ...]) -> list[Check]:
    """Null key parts; duplicated keys (all rows sharing the key)."""
    missing = F.lit(False)
    for key in keys:
        missing = missing | F.col(key).isNull()
    copies = F.count(F.lit(1)).over(Window.partitionBy(*keys))
    return [Check(n.MISSING_KEY, missing, F.lit(f"key ({', '.join(keys)}) has a null part")),
            Check(n.DUPLICATE_KEY, ~missing & (copies > 1), _fmt("%s rows share this key", copies))]


def split(df: DataFrame, table: str, checks: list[Check], columns: list[str]) -> tuple[DataFrame, DataFrame]:
    """(clean rows with `columns`, problem rows) of `df` under `checks`."""
    keys = KEYS[table]
    failures = F.array(*[F.when(c.failed, F.struct(F.lit(c.reason).alias("reason"), c.detail.alias("detail")))
                         for c in key_checks(keys) + checks])
    annotated = df.withColumn("_failures", F.filter(failures, lambda f: f.isNotNull()))
    if table != n.PRODUCTION_ORDERS:   # small tables: check once, read clean rows and problems from it
        annotated = annotated.localCheckpoint(eager=True)
    clean = annotated.where(F.size("_failures") == 0).select(*columns)
    every_failure = F.transform("_failures", lambda f: F.concat(f["reason"], F.lit(": "), f["detail"]))
    problems = annotated.where(F.size("_failures") > 0).select(
        F.lit(table).alias("table_name"),
        F.concat_ws("|", *[F.coalesce(F.col(k).cast("string"), F.lit("")) for k in keys]).alias("row_key"),
        F.col("_failures")[0]["reason"].alias("reason"),
        F.when(F.size("_failures") == 1, F.col("_failures")[0]["detail"])
         .otherwise(F.concat_ws("; ", every_failure)).alias("detail"),
        F.to_json(F.struct(*columns)).alias("raw_json"))
    return clean, problems


def _flag(df: DataFrame, lookup: DataFrame, left: str, right: str, flag: str) -> DataFrame:
    """df with boolean `flag`: does df.left occur as lookup.right?"""
    marks = lookup.select(F.col(right).alias(left), F.lit(True).alias(flag)).distinct()
    return df.join(F.broadcast(marks), on=left, how="left").fillna(False, subset=[flag])


def check_plants(plants: DataFrame) -> tuple[DataFrame, DataFrame]:
    return split(plants, n.PLANTS, [], plants.columns)


def check_models(models: DataFrame) -> tuple[DataFrame, DataFrame]:
    return split(models, n.VEHICLE_MODELS, [], models.columns)


def check_parts(parts: DataFrame) -> tuple[DataFrame, DataFrame]:
    part_type, lead = F.col(n.PART_TYPE), F.col(n.LEAD_TIME_DAYS)
    supplier = F.trim(F.coalesce(F.col(n.SUPPLIER_ID), F.lit("")))
    checks = [
        Check(n.UNKNOWN_PART_TYPE, part_type.isNull() | ~part_type.isin(*n.PART_TYPES),
              _fmt("part_type '%s' is not one of " + "/".join(n.PART_TYPES), part_type)),
        Check(n.PURCHASED_WITHOUT_SUPPLIER, (part_type == n.PURCHASED) & (supplier == ""),
              F.lit("purchased part without supplier_id")),
        Check(n.INVALID_LEAD_TIME, lead.isNull() | (lead < 0), _fmt("lead_time_days %s is not >= 0", lead)),
    ]
    return split(parts, n.PARTS, checks, parts.columns)


def invalid_rules_frame(df: DataFrame, invalid: list[tuple[str, str]]) -> DataFrame:
    schema = StructType([StructField(n.RULE, StringType(), False), StructField("rule_error", StringType(), False)])
    return df.sparkSession.createDataFrame(invalid, schema)


def cycle_frame(df: DataFrame, pairs: set[tuple[str, str]]) -> DataFrame:
    schema = StructType([StructField(n.PARENT_ID, StringType(), False), StructField(n.CHILD_ID, StringType(), False),
                         StructField("_on_cycle", BooleanType(), False)])
    return df.sparkSession.createDataFrame([(p, c, True) for p, c in sorted(pairs)], schema)


def check_bom_items(bom_items: DataFrame, clean_parts: DataFrame, clean_models: DataFrame,
                    invalid_rules: list[tuple[str, str]], cycle_pairs: set[tuple[str, str]]) -> tuple[DataFrame, DataFrame]:
    columns = bom_items.columns
    nodes = clean_parts.select(F.col(n.PART_ID).alias("_node"), F.col(n.PART_TYPE).alias("_parent_type")).unionByName(
        clean_models.select(F.col(n.MODEL_ID).alias("_node"), F.lit(n.MODEL).alias("_parent_type")))
    rule_errors = invalid_rules_frame(bom_items, invalid_rules)
    annotated = (bom_items
                 .withColumn("_rule_key", rule_key(F.col(n.RULE)))
                 .join(F.broadcast(nodes.withColumnRenamed("_node", n.PARENT_ID)), on=n.PARENT_ID, how="left")
                 .transform(lambda df: _flag(df, clean_parts, n.CHILD_ID, n.PART_ID, "_child_known"))
                 .join(F.broadcast(rule_errors.withColumnRenamed(n.RULE, "_rule_key")), on="_rule_key", how="left")
                 .join(F.broadcast(cycle_frame(bom_items, cycle_pairs)), on=[n.PARENT_ID, n.CHILD_ID], how="left"))
    quantity, scrap = F.col(n.QUANTITY), F.coalesce(F.col(n.SCRAP_PCT), F.lit(0))
    valid_from, valid_to = F.col(n.VALID_FROM), F.col(n.VALID_TO)
    checks = [
        Check(n.UNKNOWN_PARENT, F.col("_parent_type").isNull(),
              _fmt("parent_id '%s' is neither a vehicle model nor a valid part", F.col(n.PARENT_ID))),
        Check(n.PURCHASED_PARENT, F.col("_parent_type") == n.PURCHASED,
              _fmt("parent_id '%s' is a purchased part and cannot have children", F.col(n.PARENT_ID))),
        Check(n.UNKNOWN_CHILD, ~F.col("_child_known"), _fmt("child_id '%s' is not a valid part", F.col(n.CHILD_ID))),
        Check(n.NON_POSITIVE_QUANTITY, quantity.isNull() | (quantity <= 0), _fmt("quantity %s is not > 0", quantity)),
        Check(n.SCRAP_OUT_OF_RANGE, (scrap < 0) | (scrap >= 100), _fmt("scrap_pct %s is outside [0, 100)", scrap)),
        Check(n.INVALID_VALIDITY, valid_from.isNotNull() & valid_to.isNotNull() & (valid_to <= valid_from),
              _fmt("valid_to %s is not after valid_from %s", valid_to, valid_from)),
        Check(n.INVALID_RULE, F.col("rule_error").isNotNull(), _fmt("rule '%s': %s", F.col(n.RULE), F.col("rule_error"))),
        Check(n.CYCLE, F.coalesce(F.col("_on_cycle"), F.lit(False)),
              _fmt("edge %s -> %s lies on a cycle of the BOM", F.col(n.PARENT_ID), F.col(n.CHILD_ID))),
    ]
    return split(annotated, n.BOM_ITEMS, checks, columns)


def check_orders(orders: DataFrame, clean_plants: DataFrame, clean_models: DataFrame) -> tuple[DataFrame, DataFrame]:
    annotated = (orders
                 .transform(lambda df: _flag(df, clean_plants, n.PLANT_ID, n.PLANT_ID, "_plant_known"))
                 .transform(lambda df: _flag(df, clean_models, n.MODEL_ID, n.MODEL_ID, "_model_known")))
    quantity, options = F.col(n.QUANTITY), F.coalesce(F.col(n.OPTION_CODES), F.array().cast("array<string>"))
    malformed = F.exists(options, lambda c: c.isNull() | ~c.rlike(f"^{CODE_PATTERN.pattern}$"))
    checks = [
        Check(n.UNKNOWN_PLANT, ~F.col("_plant_known"), _fmt("plant_id '%s' is not a valid plant", F.col(n.PLANT_ID))),
        Check(n.UNKNOWN_MODEL, ~F.col("_model_known"), _fmt("model_id '%s' is not a valid model", F.col(n.MODEL_ID))),
        Check(n.INVALID_QUANTITY, quantity.isNull() | (quantity < 1), _fmt("quantity %s is not >= 1", quantity)),
        Check(n.MISSING_DATE, F.col(n.PRODUCTION_DATE).isNull(), F.lit("production_date is null")),
        Check(n.MALFORMED_OPTION_CODE, malformed,
              _fmt("option_codes %s hold a code outside [A-Z0-9]{2,12}", F.to_json(options))),
    ]
    return split(annotated, n.PRODUCTION_ORDERS, checks, orders.columns)


@dataclass
class Validated:
    clean: dict[str, DataFrame]        # input tables holding clean rows only
    problems: DataFrame                # PROBLEM_COLUMNS
    rules: DataFrame                   # valid rules with their DNF (rules.rule_table)
    pairs: set[tuple[str, str]]        # distinct (parent_id, child_id) of all bom_items


def validate_inputs(tables: dict[str, DataFrame], max_rule_terms: int) -> Validated:
    """All row checks of the contract over the input tables.

    Collects two small things to the driver: the distinct rules (parsed once)
    and the distinct (parent, child) pairs of the BOM (cycle search).
    """
    from transforms.graph import cycle_pairs
    from transforms.rules import rule_table
    from transforms.validate_plan import check_take_rates, check_volume_plan

    plants, plant_problems = check_plants(tables[n.PLANTS])
    models, model_problems = check_models(tables[n.VEHICLE_MODELS])
    parts, part_problems = check_parts(tables[n.PARTS])
    bom = tables[n.BOM_ITEMS]
    rules, invalid_rules = rule_table(bom, max_rule_terms)
    pairs = {(r[0], r[1]) for r in bom.select(n.PARENT_ID, n.CHILD_ID).where(
        F.col(n.PARENT_ID).isNotNull() & F.col(n.CHILD_ID).isNotNull()).distinct().collect()}
    bom_items, bom_problems = check_bom_items(bom, parts, models, invalid_rules, cycle_pairs(pairs))
    orders, order_problems = check_orders(tables[n.PRODUCTION_ORDERS], plants, models)
    rates, rate_problems = check_take_rates(tables[n.OPTION_TAKE_RATES], models)
    plan, plan_problems = check_volume_plan(tables[n.VOLUME_PLAN], plants, models, rate_problems)
    problems = plant_problems
    for more in (model_problems, part_problems, bom_problems, order_problems, rate_problems, plan_problems):
        problems = problems.unionByName(more)
    clean = dict(tables)
    clean.update({n.PLANTS: plants, n.VEHICLE_MODELS: models, n.PARTS: parts,
                  n.BOM_ITEMS: bom_items, n.PRODUCTION_ORDERS: orders,
                  n.OPTION_TAKE_RATES: rates, n.VOLUME_PLAN: plan})
    return Validated(clean, problems, rules, pairs)
