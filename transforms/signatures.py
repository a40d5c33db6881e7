"""Production orders -> variant signatures: what the BOM can tell apart (issue 8).

Real option sets are nearly unique per car, but a model's BOM only sees
  * which of the rules on the edges reachable from the model hold, and
  * which effectivity epoch the production date falls in: the interval between
    two consecutive valid_from / valid_to boundaries of those edges.
Orders of one (plant, model) that agree on both need the same parts per car, so
each signature (plant, model, epoch, true rules) is exploded once, at the first
production date of the signature (every date of an epoch switches the same
edges on), and multiplied back per production date by the dated signatures.

The rule sets and epoch boundaries per model come from the BOM structure (small,
on the driver, like graph.cycle_pairs); the signature of an order comes from one
pass of the compiled rule kernel over the orders (transforms/compiled_rules.py,
no UDF and no shuffle), which also feeds pegging's order -> signature table.

A signature's id is deterministic: xxhash64 of (plant, model, epoch, true rules),
so the same orders on the same BOM get the same ids in every run. Two signatures
of one run hashing alike would merge their demand: a second hash of the key
(Murmur3) per id catches it and the run stops with an error.
"""
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DateType, IntegerType, StringType, StructField, StructType

from schemas import names as n
from schemas import quantities as q
from transforms.rules import RULE_TERMS_TYPE, rule_holds, rule_numbers
from transforms.bom import edge_is_effective
from transforms.compiled_rules import compile_models, with_rule_outcomes
from transforms.configurations import normalise_options
from transforms.explode import NODE_RULES, Selection
from transforms.graph import labels_below, reachable
from transforms.local import local_frame

MODEL_RULES = StructType([
    StructField(n.MODEL_ID, StringType(), False),
    StructField("model_rules", ArrayType(StructType([StructField(n.RULE, StringType(), False),
                                                     StructField(n.RULE_TERMS, RULE_TERMS_TYPE, False),
                                                     StructField(n.RULE_NUMBER, IntegerType(), False)])), False),
    StructField("boundaries", ArrayType(DateType()), False),
])
NODE_RULES_SCHEMA = StructType([StructField(n.NODE_ID, StringType(), False),
                                StructField(NODE_RULES, ArrayType(IntegerType(), False), False)])
SIGNATURE_KEY = (n.PLANT_ID, n.MODEL_ID, n.EPOCH, n.TRUE_RULES)


@dataclass
class Signatures:
    signatures: DataFrame   # config_id, plant_id, model_id, production_date (first of the signature), true_rules
    dated: DataFrame        # config_id, plant_id, model_id, production_date, rule_numbers, config_quantity, orders
    count: int = 0          # signatures
    dated_count: int = 0    # (signature, production date) rows
    orders: int = 0         # orders they stand for
    signed: DataFrame | None = None   # each order's signature id (order_id, plant, model, date, quantity, id)


def reach_of_models(structure: list, models: list[str]) -> dict[str, tuple[list[str], list]]:
    """Per model: the sorted rule keys (non-trivial) and the sorted effectivity boundaries of every edge it can
    reach, on the driver. `structure`: the used BOM rows (parent_id, child_id, rule key, valid_from, valid_to),
    already on the driver (screen.bom_structure)."""
    reach = reachable(((r[n.PARENT_ID], r[n.CHILD_ID]) for r in structure), models)
    out = {}
    for model in sorted(models):
        nodes = reach[model]
        mine = [r for r in structure if r[n.PARENT_ID] in nodes]
        rules = sorted({r[n.RULE] for r in mine if r[n.RULE] != ""})
        bounds = {d for r in mine for d in (r[n.VALID_FROM], r[n.VALID_TO]) if d is not None}
        out[model] = (rules, sorted(bounds))
    return out


def model_rules(spark, structure: list, terms: dict, models: list[str],
                reach: dict[str, tuple[list[str], list]] | None = None) -> DataFrame:
    """Per model: its rules with their DNF (`terms`: rule key -> DNF of the valid rules) and number
    (rules.rule_numbers of the valid keys) and effectivity boundaries (reach_of_models, computed here unless
    given)."""
    reach = reach if reach is not None else reach_of_models(structure, models)
    numbers = rule_numbers(terms)
    return local_frame(spark, [(model, [(rule, terms[rule], numbers[rule]) for rule in rules], bounds)
                               for model, (rules, bounds) in sorted(reach.items())], MODEL_RULES)


def node_rules(spark, structure: list, terms: dict) -> DataFrame:
    """Per node with rules below it: the ascending numbers (rules.rule_numbers of the valid keys in `terms`) of
    the rules of its sub-structure (the projection of the explosion's frontier, transforms/explode.py). Nodes
    with none are left out (no projection key). A key without a number (not valid) is not in the used BOM."""
    numbers = rule_numbers(terms)
    below = labels_below((r[n.PARENT_ID], r[n.CHILD_ID], r[n.RULE]) for r in structure)
    rows = [(node, sorted(numbers[rule] for rule in rules if rule in numbers)) for node, rules in sorted(below.items())]
    return local_frame(spark, [row for row in rows if row[1]], NODE_RULES_SCHEMA)


def true_rules_expression(options: Column) -> Column:
    """The true rules of a row joined with its model's MODEL_RULES row, by Spark's higher-order functions:
    the definition the compiled kernel (transforms/compiled_rules.py) is tested against."""
    held = F.filter(F.col("model_rules"), lambda r: rule_holds(r[n.RULE_TERMS], options))
    return F.transform(held, lambda r: r[n.RULE])


def epoch_expression(day: Column) -> Column:
    return F.size(F.filter(F.col("boundaries"), lambda b: b <= day))


class SignatureCollision(RuntimeError):
    """Two different signatures of one run got the same id."""


def signature_id() -> Column:
    """The deterministic id of a signature row (SIGNATURE_KEY columns in scope)."""
    return F.xxhash64(*[F.col(c) for c in SIGNATURE_KEY])


def with_signature(orders: DataFrame, models: dict) -> DataFrame:
    """orders (already normalised, with option_codes) of the `models` (compile_models of MODEL_RULES rows) +
    epoch, true_rules, rule_numbers and signature_id: the compiled rule kernel per Arrow batch
    (transforms/compiled_rules.py), no shuffle."""
    return (orders.where(F.col(n.MODEL_ID).isin(*models))
            .transform(lambda o: with_rule_outcomes(o, models))
            .withColumn(n.SIGNATURE_ID, signature_id()))


def rule_keys(numbers: Column, models: dict) -> Column:
    """The rule keys of an array of rule numbers (the compiled models' own numbering: ascending numbers give
    the keys in key order, as the kernel's true_rules lists them)."""
    key = {int(number): rule for model in models.values()
           for rule, number in zip(model.rules.to_pylist(), model.numbers.to_pylist())}
    table = F.array(*[F.lit(key.get(i, "")) for i in range(1, max(key, default=0) + 1)]).cast("array<string>")
    return F.transform(numbers, lambda i: F.coalesce(F.element_at(table, i), F.lit("")))   # never null: as the kernel's


def second_hash() -> Column:
    """A second, independent hash of the signature key (Murmur3, not xxhash64): two keys sharing an id
    differ here too, short of a double collision (about 1 in 10^27 at a million signatures)."""
    return F.hash(*[F.col(c) for c in SIGNATURE_KEY])


ROW = "signed_row"   # an order's row number in `signed` (monotonically_increasing_id, fixed by its checkpoint)


def by_id(narrow: DataFrame, keys: DataFrame) -> DataFrame:
    """narrow (fixed-width columns per signature id) joined with the signatures' key columns: a shuffled hash
    join built on the narrow side, so that the rule arrays are shuffled once and never sorted."""
    return narrow.hint("shuffle_hash").join(keys, n.SIGNATURE_ID)


def order_signatures(orders: DataFrame, rules_by_model: DataFrame) -> Signatures:
    """One pass of the rule kernel over the used orders: each order's signature (`signed`, persisted, the
    pegging table's source), the dated signatures (one row per signature and production date, summed
    quantity and order count, its rule numbers: what the explosion starts from) and the signatures (each
    with its first production date and its true rules as keys: the lake's `signatures` table).

    config_id is the signature's deterministic id (signature_id()). The groupings are on that id (a long),
    not on the key's rule arrays; a second hash of the key per id catches two keys sharing an id.

    `signed` keeps the rule numbers only (4 bytes a rule; the keys are hashed before and looked up again for
    the signatures, `rule_keys`), and only fixed-width columns are aggregated (sums, counts, hashes, a row
    number: Spark's hash aggregate). A signature's plant, model and rule numbers are taken from one of its
    orders by a hash join (`by_id`). Until 2026-12-07 the key arrays went through the groupings with `first`,
    which Spark can only do by sorting them: at realistic SF 1 (a million orders, 80-150 codes each) those
    sorts spilled 20 GB, and inside a whole night on a 4 GiB driver they failed for memory
    (docs/performance.md)."""
    models = compile_models(rules_by_model.collect())
    signed = (orders.transform(normalise_options)
              .transform(lambda o: with_signature(o, models))
              .select(n.ORDER_ID, n.SIGNATURE_ID, n.PLANT_ID, n.MODEL_ID, n.RULE_NUMBERS, n.PRODUCTION_DATE,
                      n.QUANTITY, second_hash().alias("key_hash"), F.monotonically_increasing_id().alias(ROW))
              .localCheckpoint(eager=True))   # the row numbers are fixed here, once
    counts = (signed.groupBy(n.SIGNATURE_ID, n.PRODUCTION_DATE)
              .agg(F.sum(n.QUANTITY).cast(q.CONFIG_QTY).alias(n.CONFIG_QUANTITY), F.count(F.lit(1)).alias("orders"),
                   F.min("key_hash").alias("low"), F.max("key_hash").alias("high"), F.min(ROW).alias(ROW))
              .localCheckpoint(eager=True))
    firsts = (counts.groupBy(n.SIGNATURE_ID)
              .agg(F.min(n.PRODUCTION_DATE).alias(n.PRODUCTION_DATE), F.min("low").alias("low"),
                   F.max("high").alias("high"), F.min(ROW).alias(ROW))
              .localCheckpoint(eager=True))
    keys = (signed.join(firsts.select(ROW).hint("shuffle_hash"), ROW, "left_semi")   # one order per signature
            .select(n.SIGNATURE_ID, n.PLANT_ID, n.MODEL_ID, n.RULE_NUMBERS)
            .localCheckpoint(eager=True))
    dated = by_id(counts.drop(ROW), keys).localCheckpoint(eager=True)
    signatures = by_id(firsts.drop(ROW), keys).withColumn(n.TRUE_RULES, rule_keys(F.col(n.RULE_NUMBERS), models))
    totals = firsts.agg(F.count(F.lit(1)).alias("signatures"),
                        F.count(F.when(F.col("low") != F.col("high"), 1)).alias("shared")).first()
    if totals["shared"]:
        raise SignatureCollision(f"{totals['shared']} variant signature id(s) stand for more than one signature "
                                 "(xxhash64 collision): this run cannot tell their demand apart (report it; see "
                                 "transforms/signatures.py)")
    counted = counts.agg(F.count(F.lit(1)).alias("dated"), F.sum("orders").alias("orders")).first()
    return Signatures(
        signatures.select(F.col(n.SIGNATURE_ID).alias(n.CONFIG_ID), n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE,
                          n.TRUE_RULES),
        dated.select(F.col(n.SIGNATURE_ID).alias(n.CONFIG_ID), n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE,
                     n.RULE_NUMBERS, n.CONFIG_QUANTITY, "orders"),
        totals["signatures"], counted["dated"], counted["orders"] or 0,
        signed.select(n.ORDER_ID, n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.QUANTITY, n.SIGNATURE_ID))


BY_SIGNATURE = Selection(
    context=(n.PLANT_ID, n.PRODUCTION_DATE, n.TRUE_RULES),
    active=lambda: edge_is_effective(F.col(n.PLANT_ID), F.col(n.PRODUCTION_DATE)) & (
        (F.col(n.RULE) == "") | F.array_contains(F.col(n.TRUE_RULES), F.col(n.RULE))),
    factor=lambda: F.col(n.EDGE_FACTOR))
