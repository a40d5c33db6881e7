"""The order engine composed: input tables -> validated, blocked, exploded -> part_demand (not yet written)."""
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.blocking import bad_edges, blocked_frame, blocked_models, split_blocked
from transforms.bom import explosion_edges
from transforms.demand import demand_by_date, part_demand
from transforms.explode import LevelStat, explode, plan_selection
from transforms.plan import COVERED, mark_horizon, plan_configurations
from transforms.probability import rule_probabilities
from transforms.signatures import BY_SIGNATURE, model_rules, order_signatures
from transforms.validate import validate_inputs

BLOCKABLE = {n.PRODUCTION_ORDERS: (n.ORDER_ID,),
             n.VOLUME_PLAN: (n.PLANT_ID, n.MODEL_ID, n.MONTH_START),
             n.OPTION_TAKE_RATES: (n.MODEL_ID, n.MONTH_START, n.OPTION_CODE)}


@dataclass
class OrderDemand:
    part_demand: DataFrame         # fresh demand of the unblocked models, orders and plan
    problems: DataFrame            # every rejected input row (validate.PROBLEM_COLUMNS), materialised
    used: dict[str, DataFrame]     # the input rows the engine used, per table
    blocked: dict[str, str] = field(default_factory=dict)   # model_id -> cause
    orders: int = 0                # orders exploded
    signatures: int = 0            # variant signatures exploded for them (transforms/signatures.py)
    dated_signatures: int = 0      # (signature, production date) rows the demand is multiplied back by
    levels: list[LevelStat] = field(default_factory=list)
    plan_rows: int = 0             # volume_plan rows exploded (after the order horizon, units > 0)
    plan_rows_covered: int = 0     # volume_plan rows left to orders by the horizon rule
    plan_levels: list[LevelStat] = field(default_factory=list)


@dataclass
class Screened:
    """Input rows sorted into used and quarantined, before any explosion."""
    problems: DataFrame            # every rejected input row (validate.PROBLEM_COLUMNS), materialised
    used: dict[str, DataFrame]     # the rows the engine goes on with, per table
    blocked: dict[str, str]        # model_id -> cause
    rules: DataFrame               # valid rules with their DNF


def screen(tables: dict[str, DataFrame], max_rule_terms: int = 4096) -> Screened:
    """Validate every row, then block the models that reach a quarantined bom_item."""
    validated = validate_inputs(tables, max_rule_terms)
    clean = validated.clean
    row_problems = validated.problems.localCheckpoint(eager=True)
    models = [r[0] for r in clean[n.VEHICLE_MODELS].select(n.MODEL_ID).collect()]
    blocked = blocked_models(models, validated.pairs, bad_edges(row_problems))
    used, problems, causes = dict(clean), row_problems, blocked_frame(row_problems, blocked)
    for table, key in BLOCKABLE.items():
        used[table], blocked_problems = split_blocked(clean[table], causes, table, key)
        problems = problems.unionByName(blocked_problems)
    return Screened(problems.localCheckpoint(eager=True), used, blocked, validated.rules)


def explode_screened(screened: Screened, run_id: str, max_depth: int = 64) -> OrderDemand:
    """Explode the used orders and plan rows of a screened input into part_demand (not yet written)."""
    used = screened.used
    edges = explosion_edges(used[n.BOM_ITEMS], used[n.PARTS], screened.rules).localCheckpoint(eager=True)
    models = [r[0] for r in used[n.VEHICLE_MODELS].select(n.MODEL_ID).collect()]
    variants = order_signatures(used[n.PRODUCTION_ORDERS], model_rules(edges, models))
    totals = variants.dated.agg(F.count(F.lit(1)).alias("dated"), F.sum("orders").alias("orders")).first()
    explosion = explode(variants.signatures, edges, max_depth, BY_SIGNATURE)
    demand = part_demand(demand_by_date(explosion.demand, variants.dated), used[n.PARTS], run_id, n.SOURCE_ORDERS)
    result = OrderDemand(part_demand=demand, problems=screened.problems, used=used, blocked=screened.blocked,
                         orders=totals["orders"] or 0, signatures=variants.signatures.count(),
                         dated_signatures=totals["dated"], levels=explosion.levels)
    plan_demand(screened, edges, run_id, max_depth, result)
    return result


def plan_demand(screened: Screened, edges: DataFrame, run_id: str, max_depth: int, result: OrderDemand) -> None:
    """Explode the plan rows beyond the order horizon, weighted by P(rule); adds them to result.part_demand."""
    used = screened.used
    if used[n.VOLUME_PLAN].isEmpty():
        return
    marked = mark_horizon(used[n.VOLUME_PLAN], used[n.PRODUCTION_ORDERS]).localCheckpoint(eager=True)
    configs = plan_configurations(marked).localCheckpoint(eager=True)
    result.plan_rows = configs.count()
    result.plan_rows_covered = marked.where(F.col(COVERED)).count()
    if result.plan_rows == 0:
        return
    weights = rule_probabilities(screened.rules, used[n.OPTION_TAKE_RATES], configs)
    explosion = explode(configs, edges, max_depth, plan_selection(weights), label=n.SOURCE_PLAN)
    demand = (demand_by_date(explosion.demand, configs).where(F.col(n.QUANTITY) > 0)
              .transform(lambda d: part_demand(d, used[n.PARTS], run_id, n.SOURCE_PLAN)))
    result.part_demand = result.part_demand.unionByName(demand)
    result.plan_levels = explosion.levels


def order_demand(tables: dict[str, DataFrame], run_id: str, max_depth: int = 64,
                 max_rule_terms: int = 4096) -> OrderDemand:
    """screen, then explode_screened: the whole engine on in-memory tables."""
    return explode_screened(screen(tables, max_rule_terms), run_id, max_depth)
