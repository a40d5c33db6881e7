"""`bomflow peg`: the orders behind a week's demand for a part at a plant (pegging, issue 17).

Everything is read from the lake as one run committed it: the served run by default, or `--run`.
The source is not read, so last night can be pegged after the source was refreshed.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from pipeline.errors import BomflowError
from schemas import names as n
from transforms.bom import explosion_edges
from transforms.pegging import pegged_orders, signature_needs
from transforms.rules import rule_key, rule_table
from transforms.summary import week_start


def parse_week(text: str) -> date:
    """The Monday of the ISO week `text` names: YYYY-Www (2026-W11) or any date of the week (YYYY-MM-DD)."""
    try:
        if "W" in text.upper():
            year, week = text.upper().split("-W")
            return date.fromisocalendar(int(year), int(week), 1)
        day = date.fromisoformat(text)
    except ValueError:
        raise BomflowError(f"--week {text!r}: give an ISO week (2026-W11) or a date (2026-03-09)") from None
    return day - timedelta(days=day.weekday())


# The orders' sum and part_demand add the same products in a different order (per car and per group of
# cars, transforms/pegging.py); each rounds at 1e-17 per BOM level, so they agree far inside this.
TOLERANCE = Decimal("1e-12")


@dataclass
class Pegging:
    run_id: str
    plant: str
    part: str
    week: date
    orders: list[dict] = field(default_factory=list)   # order_id, model_id, production_date, demand_date, ...
    order_demand: Decimal = Decimal(0)                  # the week's order demand in part_demand (not carried)
    plan_demand: Decimal = Decimal(0)                   # the week's plan demand (no orders behind it)
    carried: dict[str, Decimal] = field(default_factory=dict)   # run that computed it -> carried quantity

    @property
    def pegged(self) -> Decimal:
        return sum((r[n.QUANTITY] for r in self.orders), Decimal(0))


def run_edges(spark: SparkSession, bom_items: DataFrame, parts: DataFrame, max_rule_terms: int) -> DataFrame:
    """The explosion edges of a run's BOM copy (its used rows: every rule in it parsed when the run did)."""
    keys = [r[0] for r in bom_items.select(rule_key(F.col(n.RULE))).distinct().collect()]
    rules, _ = rule_table(spark, keys, max_rule_terms)
    return explosion_edges(bom_items, parts, rules)


def peg(spark: SparkSession, lake: str, plant: str, part: str, week: date, run_id: str | None = None,
        max_rule_terms: int = 4096, max_depth: int = 64) -> Pegging:
    run = lk.succeeded_run(spark, lake, run_id)
    tables = {t: lk.committed_table(spark, lake, run, t)
              for t in (n.ORDER_SIGNATURES, n.SIGNATURES, n.PART_DEMAND, n.BOM_ITEMS, n.PARTS)}
    # an order's demand dates are on or before its production date: later orders only
    orders = tables[n.ORDER_SIGNATURES].where((F.col(n.PLANT_ID) == plant) & (F.col(n.PRODUCTION_DATE) >= F.lit(week)))
    signatures = (tables[n.SIGNATURES].where(F.col(n.PLANT_ID) == plant)
                  .join(orders.select(n.SIGNATURE_ID).distinct(), on=n.SIGNATURE_ID, how="left_semi"))
    needs = signature_needs(signatures, run_edges(spark, tables[n.BOM_ITEMS], tables[n.PARTS], max_rule_terms),
                            part, max_depth)
    rows = pegged_orders(orders, needs, plant, part, week)
    result = Pegging(run.run_id, plant, part, week,
                     [r.asDict() for r in rows.orderBy(n.DEMAND_DATE, n.MODEL_ID, n.ORDER_ID).collect()])
    demand = (tables[n.PART_DEMAND]
              .where((F.col(n.PLANT_ID) == plant) & (F.col(n.PART_ID) == part)
                     & (week_start(F.col(n.DEMAND_DATE)) == F.lit(week)))
              .groupBy(n.SOURCE, n.CARRIED_FROM_RUN_ID).agg(F.sum(n.QUANTITY).alias(n.QUANTITY)).collect())
    for r in demand:
        if r[n.CARRIED_FROM_RUN_ID] is not None:
            result.carried[r[n.CARRIED_FROM_RUN_ID]] = result.carried.get(r[n.CARRIED_FROM_RUN_ID], Decimal(0)) + r[n.QUANTITY]
        elif r[n.SOURCE] == n.SOURCE_PLAN:
            result.plan_demand += r[n.QUANTITY]
        else:
            result.order_demand += r[n.QUANTITY]
    if abs(result.pegged - result.order_demand) > TOLERANCE:   # never expected, said loudly if seen
        raise BomflowError(f"pegging of {part} at {plant}, week {week}: the orders sum to {result.pegged}, "
                           f"part_demand of run {run.run_id} holds {result.order_demand}")
    return result
