"""`bomflow peg`: the orders behind a week's demand for a part at a plant (pegging, issue 17).

Everything is read from the lake as one run committed it: the served run by default, or `--run`.
The source is not read, so last night can be pegged after the source was refreshed.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from pipeline.errors import BomflowError
from schemas import names as n
from transforms.pegging import pegged_orders
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


def peg(spark: SparkSession, lake: str, plant: str, part: str, week: date, run_id: str | None = None) -> Pegging:
    run = lk.succeeded_run(spark, lake, run_id)
    tables = {t: lk.committed_table(spark, lake, run, t) for t in (n.ORDER_SIGNATURES, n.SIGNATURE_NEEDS, n.PART_DEMAND)}
    rows = pegged_orders(tables[n.ORDER_SIGNATURES], tables[n.SIGNATURE_NEEDS], plant, part, week)
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
    if result.pegged != result.order_demand:   # the engine's own arithmetic: never expected, said loudly if seen
        raise BomflowError(f"pegging of {part} at {plant}, week {week}: the orders sum to {result.pegged}, "
                           f"part_demand of run {run.run_id} holds {result.order_demand}")
    return result
