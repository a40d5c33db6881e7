"""The order engine composed: validated input tables -> part_demand (not yet written)."""
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.bom import explosion_edges
from transforms.configurations import configurations
from transforms.demand import demand_by_date, part_demand
from transforms.explode import LevelStat, explode
from transforms.validate import validate_inputs


@dataclass
class OrderDemand:
    part_demand: DataFrame
    problems: DataFrame            # rows that broke the contract (validate.PROBLEM_COLUMNS)
    orders: int = 0                # clean orders exploded
    configurations: int = 0
    levels: list[LevelStat] = field(default_factory=list)


def order_demand(tables: dict[str, DataFrame], run_id: str, max_depth: int = 64,
                 max_rule_terms: int = 4096) -> OrderDemand:
    validated = validate_inputs(tables, max_rule_terms)
    clean = validated.clean
    configs = clean[n.PRODUCTION_ORDERS].transform(configurations).localCheckpoint(eager=True)
    totals = configs.agg(F.count(F.lit(1)).alias("configs"), F.sum("orders").alias("orders")).first()
    edges = explosion_edges(clean[n.BOM_ITEMS], clean[n.PARTS], validated.rules).localCheckpoint(eager=True)
    explosion = explode(configs, edges, max_depth)
    demand = demand_by_date(explosion.demand, configs)
    return OrderDemand(part_demand=part_demand(demand, clean[n.PARTS], run_id, n.SOURCE_ORDERS),
                       problems=validated.problems, orders=totals["orders"] or 0,
                       configurations=totals["configs"], levels=explosion.levels)
