"""Level-by-level BOM explosion: orders by a projected frontier of car groups, plan rows per configuration.

Both join a frontier with the active edges at every level and aggregate, so a DAG with 2^k paths costs
O(k) levels of O(edges) work, never path enumeration. Lineage is cut at every level and the depth is
bounded: a frontier still open after max_depth levels is an error (level_by_level).

  * explode (pegging's signatures, the bench's per-configuration baseline): the frontier holds
    (config_id, node_id, node_type, offset_days, per_unit), the quantity of node_id one vehicle of the
    configuration needs, summed over every path reaching it with the same lead-time offset.
  * explode_projected (orders, issue 14): the frontier holds groups of cars whose rule outcomes agree on
    the rules below the node, with their total quantity (see the section below).
  * explode_plan (plan rows, issue 14): one frontier per (model, month), plant-specific edges branched
    off per plant (see the last section).
"""
import time
from dataclasses import dataclass, field
from typing import Callable

import structlog
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from schemas import names as n
from schemas import quantities as q
from transforms.bom import edge_for_plant, edge_in_effect, edge_is_active, edge_is_effective

log = structlog.stdlib.get_logger(__name__)

FRONTIER_COLUMNS = (n.CONFIG_ID, n.NODE_ID, n.NODE_TYPE, n.OFFSET_DAYS, n.PER_UNIT)
DEMAND_TYPES = (n.ASSEMBLY, n.PURCHASED)   # get demand
OPEN_TYPES = (n.ASSEMBLY, n.PHANTOM)       # are exploded further


class ExplosionError(RuntimeError):
    """The BOM did not close within the depth bound."""


@dataclass
class LevelStat:
    level: int
    rows: int
    seconds: float


@dataclass
class Explosion:
    demand: DataFrame                       # config_id, part_id, offset_days, per_unit
    levels: list[LevelStat] = field(default_factory=list)


def roots(configs: DataFrame) -> DataFrame:
    """Level 0: each configuration needs one vehicle of its model."""
    return configs.select(n.CONFIG_ID, F.col(n.MODEL_ID).alias(n.NODE_ID), F.lit(n.MODEL).alias(n.NODE_TYPE),
                          F.lit(0).alias(n.OFFSET_DAYS), F.lit(1).cast(q.PER_UNIT).alias(n.PER_UNIT))


@dataclass(frozen=True)
class Selection:
    """How a configuration picks its edges and weighs them: orders and pegging's signatures pick by their
    rule outcomes (the rule must hold) and weigh by the edge factor."""
    context: tuple[str, ...]                  # configuration columns the edge test reads
    active: Callable[[], Column]
    factor: Callable[[], Column]


WEIGHT_KEY = (n.RULE, n.MODEL_ID, n.PRODUCTION_DATE)   # P(rule) of a plan context (transforms/probability.py)

BY_OPTIONS = Selection(
    context=(n.PLANT_ID, n.PRODUCTION_DATE, n.OPTION_CODES),
    active=lambda: edge_is_active(F.col(n.PLANT_ID), F.col(n.PRODUCTION_DATE), F.col(n.OPTION_CODES)),
    factor=lambda: F.col(n.EDGE_FACTOR))


def plan_factor() -> Column:
    """A plan edge's weight: its factor times P(rule) of the context's (model, month)."""
    return (F.col(n.EDGE_FACTOR) * F.col(n.RULE_PROBABILITY)).cast(q.PLAN_FACTOR)


def next_level(frontier: DataFrame, configs: DataFrame, edges: DataFrame,
               selection: Selection = BY_OPTIONS, broadcast_context: bool = True) -> DataFrame:
    """One level down: children reached over active edges, summed per (config, child, offset).

    The configurations' context (plant, date, rule outcomes) is broadcast when it is small, so a level is
    one shuffle (the aggregation), not two; a context too large to broadcast is shuffle-joined."""
    context = configs.select(n.CONFIG_ID, *selection.context)
    context = F.broadcast(context) if broadcast_context else context
    reached = (frontier.select(n.CONFIG_ID, n.NODE_ID, n.OFFSET_DAYS, n.PER_UNIT)
               .join(context, on=n.CONFIG_ID, how="inner")
               .withColumnRenamed(n.NODE_ID, n.PARENT_ID)
               .join(F.broadcast(edges), on=n.PARENT_ID, how="inner"))
    return (reached
            .where(selection.active())
            .groupBy(n.CONFIG_ID, F.col(n.CHILD_ID).alias(n.NODE_ID), n.NODE_TYPE,
                     (F.col(n.OFFSET_DAYS) + F.col(n.PARENT_OFFSET)).alias(n.OFFSET_DAYS))
            .agg(F.sum(F.col(n.PER_UNIT) * selection.factor()).cast(q.PER_UNIT).alias(n.PER_UNIT)))


def level_by_level(frontier: DataFrame, step: Callable[[DataFrame], DataFrame], max_depth: int, label: str,
                   materialise: Callable[[DataFrame], DataFrame], levels: list[LevelStat],
                   keep: Callable[[DataFrame], DataFrame] | None = None) -> DataFrame:
    """Run `step` level by level until no assembly or phantom is open; the union of every level's rows of
    demand types. A frontier still open after max_depth levels is an ExplosionError naming some of its
    nodes.

    One job per level (besides the broadcasts its joins need) computes the level, fills its checkpoint
    (`materialise`, lazy) and counts its rows and open rows on the way (an Observation: the depth guard
    and the level statistics need no job of their own).

    The level's demand rows are materialised by that job, `keep` of them when given (fewer columns,
    summed): the end reads those frames, not every level's full checkpoint with the rule arrays of its
    open rows, and a level's checkpoint is free to go once the next level is built (at the realistic
    profile the full levels were about 8 GB at SF 0.01, read again at the end)."""
    demand_levels = []
    for level in range(1, max_depth + 1):
        started = time.monotonic()
        reached = materialise(step(frontier))
        counts = Observation()
        counted = reached.observe(counts, F.count(F.lit(1)).alias("rows"),
                                  F.count(F.when(F.col(n.NODE_TYPE).isin(*OPEN_TYPES), 1)).alias("open"))
        kept = counted.where(F.col(n.NODE_TYPE).isin(*DEMAND_TYPES))   # the level's job: computed, counted, kept
        demand_levels.append((keep(kept) if keep is not None else kept).localCheckpoint(eager=True))
        rows, still_open = counts.get["rows"], counts.get["open"]
        levels.append(LevelStat(level, rows, round(time.monotonic() - started, 3)))
        log.info("explosion_level", source=label, level=level, rows=rows, open=still_open, seconds=levels[-1].seconds)
        frontier = reached.where(F.col(n.NODE_TYPE).isin(*OPEN_TYPES))
        if still_open == 0:
            break
    else:
        open_nodes = sorted(r[0] for r in frontier.select(n.NODE_ID).distinct().limit(10).collect())
        raise ExplosionError(
            f"the BOM is still open after max_depth={max_depth} levels (a cycle, or deeper than the bound); "
            f"open nodes include: {', '.join(open_nodes)}")
    union = demand_levels[0]
    for part in demand_levels[1:]:
        union = union.unionByName(part)
    return union


def explode(configs: DataFrame, edges: DataFrame, max_depth: int, selection: Selection = BY_OPTIONS,
            label: str = n.SOURCE_ORDERS, broadcast_context: bool = True,
            materialise: Callable[[DataFrame], DataFrame] = lambda df: df.localCheckpoint(eager=False)) -> Explosion:
    """Explode every configuration to (config_id, part_id, offset_days, per_unit).

    `materialise` cuts lineage after each level (a lazy localCheckpoint by
    default, filled by the level's one counting job; a reliable checkpoint on a
    cluster that may lose executors).
    """
    result = Explosion(demand=None)
    union = level_by_level(roots(configs), lambda frontier: next_level(frontier, configs, edges, selection,
                                                                       broadcast_context),
                           max_depth, label, materialise, result.levels)
    result.demand = union.select(n.CONFIG_ID, F.col(n.NODE_ID).alias(n.PART_ID), n.OFFSET_DAYS, n.PER_UNIT)
    return result


# --- Orders: the projected frontier (issue 14) ---------------------------------------------------------
#
# A frontier row of the projected explosion is a group of cars, not one configuration:
#   (plant, model, production_date, node, node_type, offset, rule_numbers) -> quantity
# where quantity is the number of `node` those cars need in all (cars x need per car, summed) and
# rule_numbers is the cars' true rules *projected onto the rules below the node* (node_rules): the only
# rules that can still tell the cars apart further down. At the model every rule is below, so a row is
# a dated signature; one level down each module keeps only the rules of its own sub-structure, and a
# rule-free sub-assembly keeps none, so there the rows of every car of a (plant, model, date) merge.
# Quantities are totals (a sum of products), so merging is exact; the date stays in the key because
# demand is dated. Plan rows are weighted per configuration and keep `explode` above.
# Rules travel as their numbers in the run (rules.rule_numbers, ascending: one canonical order per set),
# not as their keys: at the realistic profile a frontier row carries up to hundreds of them, and an int
# array is several times smaller to shuffle, hash and intersect than an array of strings.

NODE_RULES = "node_rules"   # per node: the ascending rule numbers on the edges of its sub-structure


def _no_rules() -> Column:
    return F.array().cast("array<int>")


def projected_roots(dated: DataFrame) -> DataFrame:
    """Level 0: each dated signature (plant, model, production_date, rule_numbers, config_quantity) needs
    config_quantity vehicles of its model."""
    return dated.select(n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, F.col(n.MODEL_ID).alias(n.NODE_ID),
                        F.lit(n.MODEL).alias(n.NODE_TYPE), F.lit(0).alias(n.OFFSET_DAYS), n.RULE_NUMBERS,
                        F.col(n.CONFIG_QUANTITY).cast(q.PER_UNIT).alias(n.QUANTITY))


def projected_edges(edges: DataFrame, node_rules: DataFrame) -> DataFrame:
    """The explosion edges with the rules below each child (empty for a rule-free sub-structure)."""
    below = node_rules.select(F.col(n.NODE_ID).alias(n.CHILD_ID), NODE_RULES)
    return (edges.join(F.broadcast(below), on=n.CHILD_ID, how="left")
            .withColumn(NODE_RULES, F.coalesce(F.col(NODE_RULES), _no_rules())))


def next_projected_level(frontier: DataFrame, edges: DataFrame) -> DataFrame:
    """One level down: active edges taken by each group, the children's outcomes projected, groups merged.
    `edges` comes broadcast-hinted or not (edge_join)."""
    active = edge_is_effective(F.col(n.PLANT_ID), F.col(n.PRODUCTION_DATE)) & (
        F.col(n.RULE_NUMBER).isNull() | F.array_contains(F.col(n.RULE_NUMBERS), F.col(n.RULE_NUMBER)))
    projected = F.when(F.size(NODE_RULES) == 0, _no_rules()).otherwise(F.array_intersect(n.RULE_NUMBERS, NODE_RULES))
    return (frontier.withColumnRenamed(n.NODE_ID, n.PARENT_ID).drop(n.NODE_TYPE)
            .join(edges, on=n.PARENT_ID, how="inner")
            .where(active)
            .groupBy(n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, F.col(n.CHILD_ID).alias(n.NODE_ID), n.NODE_TYPE,
                     (F.col(n.OFFSET_DAYS) + F.col(n.PARENT_OFFSET)).alias(n.OFFSET_DAYS), projected.alias(n.RULE_NUMBERS))
            .agg(F.sum(F.col(n.QUANTITY) * F.col(n.EDGE_FACTOR)).cast(q.PER_UNIT).alias(n.QUANTITY)))


def edge_join(edges: DataFrame, broadcast: bool) -> DataFrame:
    """The edges as every level joins them: broadcast (one copy per executor, no shuffle of the frontier) up
    to engine.broadcast_edge_rows, shuffle-joined beyond (a BOM too large to send whole; slower, same rows)."""
    return F.broadcast(edges) if broadcast else edges


def explode_projected(dated: DataFrame, edges: DataFrame, node_rules: DataFrame, max_depth: int,
                      materialise: Callable[[DataFrame], DataFrame] = lambda df: df.localCheckpoint(eager=False),
                      broadcast_edges: bool = True) -> Explosion:
    """Explode dated signatures to demand (plant_id, model_id, part_id, demand_date, quantity), summed.

    Level statistics count the projected frontier rows (what a level costs)."""
    edges = edge_join(projected_edges(edges, node_rules).localCheckpoint(eager=True), broadcast_edges)   # once, not per level
    result = Explosion(demand=None)
    union = level_by_level(projected_roots(dated), lambda frontier: next_projected_level(frontier, edges),
                           max_depth, n.SOURCE_ORDERS, materialise, result.levels, keep=dated_demand)
    result.demand = summed_demand(union)
    return result


def dated_demand(rows: DataFrame) -> DataFrame:
    """Frontier rows of demand types -> (plant, model, part, demand_date, quantity), summed."""
    return summed_demand(rows.select(n.PLANT_ID, n.MODEL_ID, F.col(n.NODE_ID).alias(n.PART_ID),
                                     F.date_sub(F.col(n.PRODUCTION_DATE), F.col(n.OFFSET_DAYS)).alias(n.DEMAND_DATE),
                                     n.QUANTITY))


def summed_demand(rows: DataFrame) -> DataFrame:
    """(plant, model, part, demand_date, quantity) summed per key. Sums of one scale are exact, so summing per
    level and then over the levels gives the numbers one sum gives."""
    return (rows.groupBy(n.PLANT_ID, n.MODEL_ID, n.PART_ID, n.DEMAND_DATE)
            .agg(F.sum(n.QUANTITY).cast(q.DEMAND).alias(n.QUANTITY)))


# --- Plan: one explosion per (model, month), plant-specific edges branched off (issue 14) ---------------
#
# A plan row's need per unit depends on its plant only through plant-specific edges, and a model is
# planned at about ten plants. So the plan explodes each (model, month) context once. A frontier row
# carries `plant_id`: null while its path has taken only edges for every plant, P once it takes an edge
# for plant P; from there it takes only edges for every plant or for P (edge_for_plant, as the per-row
# explosion does). A plan row of (P, model, month) needs the rows of its context whose plant is null or
# P: exactly the paths whose plant-specific edges are all P's. The weights P(rule) depend on (model,
# month) only, so they are the same for every plant.

def plan_roots(contexts: DataFrame) -> DataFrame:
    """Level 0: each (model, month) context needs one vehicle of its model, for any plant so far. The
    context's model and month ride along in every frontier row (no join back to the contexts per level)."""
    return contexts.select(n.CONFIG_ID, n.MODEL_ID, n.PRODUCTION_DATE, F.lit(None).cast("string").alias(n.PLANT_ID),
                           F.col(n.MODEL_ID).alias(n.NODE_ID), F.lit(n.MODEL).alias(n.NODE_TYPE),
                           F.lit(0).alias(n.OFFSET_DAYS), F.lit(1).cast(q.PER_UNIT).alias(n.PER_UNIT))


def next_plan_level(frontier: DataFrame, edges: DataFrame, weights: DataFrame) -> DataFrame:
    """One level down: edges in effect in the month, for every plant or for the row's plant (any plant's
    while the row has none yet), weighted by P(rule); summed per (context, plant, child, offset)."""
    plant = F.col(n.PLANT_ID)
    return (frontier.drop(n.NODE_TYPE).withColumnRenamed(n.NODE_ID, n.PARENT_ID)
            .join(edges, on=n.PARENT_ID, how="inner")
            .join(F.broadcast(weights), on=list(WEIGHT_KEY), how="inner")
            .where(edge_in_effect(F.col(n.PRODUCTION_DATE)) & (plant.isNull() | edge_for_plant(plant)))
            .groupBy(n.CONFIG_ID, n.MODEL_ID, n.PRODUCTION_DATE, F.coalesce(plant, F.col("edge_plant_id")).alias(n.PLANT_ID),
                     F.col(n.CHILD_ID).alias(n.NODE_ID), n.NODE_TYPE,
                     (F.col(n.OFFSET_DAYS) + F.col(n.PARENT_OFFSET)).alias(n.OFFSET_DAYS))
            .agg(F.sum(F.col(n.PER_UNIT) * plan_factor()).cast(q.PER_UNIT).alias(n.PER_UNIT)))


def explode_plan(contexts: DataFrame, edges: DataFrame, weights: DataFrame, max_depth: int,
                 materialise: Callable[[DataFrame], DataFrame] = lambda df: df.localCheckpoint(eager=False),
                 broadcast_edges: bool = True) -> Explosion:
    """Explode (config_id, model_id, production_date) contexts to (config_id, plant_id, part_id, offset_days,
    per_unit); plant_id null: the need of every plant's plan row of the context, P: of P's row only."""
    edges = edge_join(edges, broadcast_edges)
    result = Explosion(demand=None)
    union = level_by_level(plan_roots(contexts), lambda frontier: next_plan_level(frontier, edges, weights),
                           max_depth, n.SOURCE_PLAN, materialise, result.levels)
    result.demand = union.select(n.CONFIG_ID, n.PLANT_ID, F.col(n.NODE_ID).alias(n.PART_ID), n.OFFSET_DAYS,
                                 n.PER_UNIT)
    return result


def plan_row_needs(contexts_demand: DataFrame, rows: DataFrame) -> DataFrame:
    """explode_plan's demand per plan row: rows (config_id, context_id, plant_id) -> (config_id, part_id,
    offset_days, per_unit), every plant's need and the row's own plant's."""
    need = contexts_demand.withColumnRenamed(n.CONFIG_ID, "context_id")
    every = need.where(F.col(n.PLANT_ID).isNull()).drop(n.PLANT_ID).join(
        F.broadcast(rows.select(n.CONFIG_ID, "context_id")), on="context_id")
    own = need.where(F.col(n.PLANT_ID).isNotNull()).join(
        F.broadcast(rows.select(n.CONFIG_ID, "context_id", n.PLANT_ID)), on=["context_id", n.PLANT_ID])
    columns = (n.CONFIG_ID, n.PART_ID, n.OFFSET_DAYS, n.PER_UNIT)
    return every.select(*columns).unionByName(own.select(*columns))
