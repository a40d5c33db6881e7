"""Input tables -> screened input: one validation pass per table, blocking, and the counts that reconcile them.

Order of work (each table is annotated once and persisted once):
  1. plants, vehicle_models, parts;
  2. the BOM's structure, collected to the driver once: rules are parsed and
     cycles found there, then bom_items is annotated;
  3. models that reach a quarantined bom_item are blocked (contract §Bad input);
  4. option_take_rates, volume_plan and production_orders, with model_blocked
     as their last check.
Clean rows, quarantine rows and the reconciliation counts are read from the
persisted annotated frames: the counts are one job over all tables, and
"read = used + quarantined" compares rows read from the source with the two
halves, so a split that lost or doubled a row is caught, not assumed away.
"""
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.blocking import blocked_models
from transforms.bom import explosion_edges
from transforms.graph import cycle_pairs
from transforms.row_checks import PROBLEM_COLUMNS, REASON, clean_rows, problem_rows
from transforms.rules import rule_key, rule_table
from transforms.signatures import model_rules, node_rules, reach_of_models
from transforms.validate import check_bom_items, check_models, check_orders, check_parts, check_plants
from transforms.validate_plan import check_take_rates, check_volume_plan

CONSUMED = (n.PLANTS, n.VEHICLE_MODELS, n.PARTS, n.BOM_ITEMS, n.PRODUCTION_ORDERS, n.VOLUME_PLAN, n.OPTION_TAKE_RATES)
READ = "__read__"   # the marker of source rows in the counting job


@dataclass
class Screened:
    """Input rows sorted into used and quarantined, before any explosion."""
    rows: dict[str, DataFrame]              # every row read, as validated once (persisted): the GX input suites
    used: dict[str, DataFrame]              # the rows the engine goes on with, per table
    problems: DataFrame                     # every rejected input row (PROBLEM_COLUMNS)
    blocked: dict[str, str]                 # model_id -> cause
    rules: DataFrame                        # valid rules with their DNF
    rule_terms: dict                        # the same on the driver: rule key -> DNF terms
    edges: DataFrame                        # explosion edges of the used BOM (materialised)
    model_rules: DataFrame                  # per used model: its rules and effectivity boundaries
    node_rules: DataFrame                   # per node: the rule numbers below it (the projection of the order explosion)
    rules_of_model: dict[str, list[str]]    # per valid model: the rule keys on the edges it reaches (driver)
    models: list[str]                       # valid model ids (blocked ones included)
    reconciliation: dict[str, dict]         # table -> {read, used, quarantined}
    quarantine_by_reason: dict[str, dict]   # table -> {reason: rows}

    @property
    def quarantine_rows(self) -> int:
        return sum(sum(reasons.values()) for reasons in self.quarantine_by_reason.values())


def _persist(df: DataFrame) -> DataFrame:
    return df.localCheckpoint(eager=True)


def bom_structure(bom_items: DataFrame) -> list:
    """(bom_item_id, parent_id, child_id, rule key, valid_from, valid_to) of every BOM row: the one BOM collect."""
    return bom_items.select(n.BOM_ITEM_ID, n.PARENT_ID, n.CHILD_ID, rule_key(F.col(n.RULE)).alias(n.RULE),
                            n.VALID_FROM, n.VALID_TO).collect()


def screen(tables: dict[str, DataFrame], max_rule_terms: int = 4096) -> Screened:
    """Validate every row once, block the models that reach a quarantined bom_item, count both halves."""
    spark = tables[n.PLANTS].sparkSession
    annotated = {n.PLANTS: _persist(check_plants(tables[n.PLANTS])),
                 n.VEHICLE_MODELS: _persist(check_models(tables[n.VEHICLE_MODELS])),
                 n.PARTS: _persist(check_parts(tables[n.PARTS]))}
    columns = {t: tables[t].columns for t in CONSUMED}
    clean = {t: clean_rows(a, columns[t]) for t, a in annotated.items()}

    bom_rows = bom_structure(tables[n.BOM_ITEMS])
    rules, invalid_rules = rule_table(spark, (r[n.RULE] for r in bom_rows), max_rule_terms)
    pairs = {(r[n.PARENT_ID], r[n.CHILD_ID]) for r in bom_rows if r[n.PARENT_ID] is not None and r[n.CHILD_ID] is not None}
    annotated[n.BOM_ITEMS] = _persist(check_bom_items(tables[n.BOM_ITEMS], clean[n.PARTS], clean[n.VEHICLE_MODELS],
                                                      invalid_rules, cycle_pairs(pairs)))
    bad = [(r[0] or "", r[1], r[2]) for r in annotated[n.BOM_ITEMS].where(F.col(REASON).isNotNull())
           .select(n.BOM_ITEM_ID, n.PARENT_ID, REASON).collect()]
    valid_models = sorted(r[0] for r in clean[n.VEHICLE_MODELS].select(n.MODEL_ID).collect())
    valid_plants = sorted(r[0] for r in clean[n.PLANTS].select(n.PLANT_ID).collect())
    blocked = blocked_models(valid_models, pairs, bad)

    annotated[n.OPTION_TAKE_RATES] = _persist(check_take_rates(tables[n.OPTION_TAKE_RATES], valid_models, blocked))
    annotated[n.VOLUME_PLAN] = _persist(check_volume_plan(tables[n.VOLUME_PLAN], valid_plants, valid_models,
                                                          annotated[n.OPTION_TAKE_RATES], blocked))
    annotated[n.PRODUCTION_ORDERS] = _persist(check_orders(tables[n.PRODUCTION_ORDERS], valid_plants, valid_models,
                                                           blocked))
    used = {t: clean_rows(annotated[t], columns[t]) for t in CONSUMED}
    problems = _union([problem_rows(annotated[t], t, columns[t]) for t in CONSUMED]).select(*PROBLEM_COLUMNS)
    reconciliation, by_reason = count(tables, annotated)

    edges = _persist(explosion_edges(used[n.BOM_ITEMS], used[n.PARTS], rules))
    bad_ids = {item for item, _, _ in bad}
    structure = [r for r in bom_rows if (r[n.BOM_ITEM_ID] or "") not in bad_ids]
    rows = {t: annotated[t].select(*columns[t]) for t in CONSUMED}
    terms = rules_by_key(rules)
    reach = reach_of_models(structure, valid_models)
    return Screened(rows, used, problems, blocked, rules, terms, edges,
                    model_rules(spark, structure, terms, valid_models, reach), node_rules(spark, structure, terms),
                    {model: rules for model, (rules, _) in reach.items()}, valid_models, reconciliation, by_reason)


def rules_by_key(rules: DataFrame) -> dict:
    """rule key -> DNF terms of the valid rules (a JVM-held local frame: one small job, no Python worker)."""
    return {r[n.RULE]: r[n.RULE_TERMS] for r in rules.collect()}


def count(tables: dict[str, DataFrame], annotated: dict[str, DataFrame]) -> tuple[dict, dict]:
    """One job: rows read from the source, rows used, rows quarantined per reason, for every table."""
    parts = [tables[t].select(F.lit(t).alias("t"), F.lit(READ).alias("r")) for t in CONSUMED]
    parts += [annotated[t].select(F.lit(t).alias("t"), F.col(REASON).alias("r")) for t in CONSUMED]
    rows = _union(parts).groupBy("t", "r").count().collect()
    reconciliation = {t: {"read": 0, "used": 0, "quarantined": 0} for t in CONSUMED}
    by_reason: dict[str, dict] = {}
    for row in rows:
        if row["r"] == READ:
            reconciliation[row["t"]]["read"] = row["count"]
        elif row["r"] is None:
            reconciliation[row["t"]]["used"] = row["count"]
        else:
            reconciliation[row["t"]]["quarantined"] += row["count"]
            by_reason.setdefault(row["t"], {})[row["r"]] = row["count"]
    return reconciliation, by_reason


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for more in frames[1:]:
        out = out.unionByName(more)
    return out
