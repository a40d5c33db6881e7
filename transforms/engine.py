"""The engine composed: screened input -> exploded orders and plan -> part_demand (not yet written)."""
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

from schemas import names as n
from transforms.demand import demand_by_date, part_demand
from transforms.explode import LevelStat, explode_plan, explode_projected, plan_row_needs
from transforms.local import local_frame
from transforms.pegging import order_signature_rows, signature_rows
from transforms.plan import COVERED, mark_horizon, plan_configurations
from transforms.probability import rule_probabilities
from transforms.screen import Screened, screen
from transforms.signatures import order_signatures

PLAN_CONTEXTS = StructType([StructField(n.CONFIG_ID, LongType(), False), StructField(n.MODEL_ID, StringType(), False),
                            StructField(n.PRODUCTION_DATE, DateType(), False)])

__all__ = ["OrderDemand", "Screened", "explode_screened", "order_demand", "screen"]


@dataclass
class OrderDemand:
    part_demand: DataFrame         # fresh demand of the unblocked models, orders and plan
    screened: Screened             # the input it was exploded from (used rows, problems, blocked models)
    orders: int = 0                # orders exploded
    signatures: int = 0            # variant signatures exploded for them (transforms/signatures.py)
    dated_signatures: int = 0      # (signature, production date) rows the demand is multiplied back by
    levels: list[LevelStat] = field(default_factory=list)
    plan_rows: int = 0             # volume_plan rows exploded (after the order horizon, units > 0)
    plan_rows_covered: int = 0     # volume_plan rows left to orders by the horizon rule
    plan_levels: list[LevelStat] = field(default_factory=list)
    order_signatures: DataFrame | None = None   # pegging (transforms/pegging.py): each used order's signature id
    signatures_table: DataFrame | None = None   # pegging: each exploded signature (SIGNATURES)

    @property
    def problems(self) -> DataFrame:
        return self.screened.problems

    @property
    def blocked(self) -> dict[str, str]:
        return self.screened.blocked

    @property
    def used(self) -> dict[str, DataFrame]:
        return self.screened.used


def explode_screened(screened: Screened, run_id: str, max_depth: int = 64,
                     broadcast_edge_rows: int = 2_000_000) -> OrderDemand:
    """Explode the used orders and plan rows of a screened input into part_demand (not yet written).

    The BOM's edges are broadcast to every level when the used BOM has at most `broadcast_edge_rows` rows
    (counted by the validation, no job), shuffle-joined beyond."""
    used, edges = screened.used, screened.edges
    broadcast = screened.reconciliation[n.BOM_ITEMS]["used"] <= broadcast_edge_rows
    variants = order_signatures(used[n.PRODUCTION_ORDERS], screened.model_rules)
    explosion = explode_projected(variants.dated, edges, screened.node_rules, max_depth, broadcast_edges=broadcast)
    demand = part_demand(explosion.demand, used[n.PARTS], run_id, n.SOURCE_ORDERS)
    result = OrderDemand(part_demand=demand, screened=screened, orders=variants.orders, signatures=variants.count,
                         dated_signatures=variants.dated_count, levels=explosion.levels,
                         order_signatures=order_signature_rows(variants.signed),
                         signatures_table=signature_rows(variants.signatures))
    plan = plan_demand(screened, run_id, max_depth, result, broadcast)
    if plan is not None:
        result.part_demand = result.part_demand.unionByName(plan)
    return result


def plan_demand(screened: Screened, run_id: str, max_depth: int, result: OrderDemand,
                broadcast_edges: bool = True) -> DataFrame | None:
    """The plan rows beyond the order horizon exploded, weighted by P(rule); None when nothing is planned."""
    used = screened.used
    marked = mark_horizon(used[n.VOLUME_PLAN], used[n.PRODUCTION_ORDERS]).localCheckpoint(eager=True)
    configs = plan_configurations(marked).localCheckpoint(eager=True)
    counts = marked.agg(F.count(F.when(~F.col(COVERED) & (F.col(n.PLANNED_UNITS) > 0), 1)).alias("exploded"),
                        F.count(F.when(F.col(COVERED), 1)).alias("covered")).first()
    result.plan_rows, result.plan_rows_covered = counts["exploded"], counts["covered"]
    if result.plan_rows == 0:
        return None
    keys = sorted((r[0], r[1]) for r in configs.select(n.MODEL_ID, n.PRODUCTION_DATE).distinct().collect())
    contexts = plan_contexts(configs.sparkSession, keys)
    weights = rule_probabilities(configs.sparkSession, screened.rule_terms, used[n.OPTION_TAKE_RATES], keys,
                                screened.rules_of_model)
    explosion = explode_plan(contexts, screened.edges, weights, max_depth, broadcast_edges=broadcast_edges)
    result.plan_levels = explosion.levels
    rows = configs.join(F.broadcast(contexts.withColumnRenamed(n.CONFIG_ID, "context_id")),
                        on=[n.MODEL_ID, n.PRODUCTION_DATE])
    return (demand_by_date(plan_row_needs(explosion.demand, rows), configs).where(F.col(n.QUANTITY) > 0)
            .transform(lambda d: part_demand(d, used[n.PARTS], run_id, n.SOURCE_PLAN)))


def plan_contexts(spark, keys: list[tuple]) -> DataFrame:
    """The distinct (model, month) of the plan rows (sorted, on the driver: a few hundred), each with a small
    id (config_id)."""
    return local_frame(spark, [(i, model, month) for i, (model, month) in enumerate(keys)], PLAN_CONTEXTS)


def order_demand(tables: dict[str, DataFrame], run_id: str, max_depth: int = 64,
                 max_rule_terms: int = 4096, broadcast_edge_rows: int = 2_000_000) -> OrderDemand:
    """screen, then explode_screened: the whole engine on in-memory tables."""
    return explode_screened(screen(tables, max_rule_terms), run_id, max_depth, broadcast_edge_rows)
