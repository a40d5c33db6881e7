"""Long-term plan demand: exact rule probabilities, the order horizon, plan quarantine, a Monte Carlo cross-check."""
import random
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from pyspark.sql import functions as F

from schemas import names as n
from tests import reference
from tests.builders import (Case, assert_matches, demand_of, edge, order, part, plan_row, take_rate,
                            without_auto_broadcast)
from transforms.engine import order_demand
from transforms.probability import TakeRates, rule_probability
from transforms.rules import to_dnf

MAY, JUNE = date(2026, 5, 1), date(2026, 6, 1)


def rates_may(model="M1"):
    return [take_rate(model, MAY, "B48", "0.5", "ENGINE"), take_rate(model, MAY, "B58", "0.3", "ENGINE"),
            take_rate(model, MAY, "P1", "0.6", "PAINT"), take_rate(model, MAY, "P2", "0.4", "PAINT"),
            take_rate(model, MAY, "HUD", "0.25")]


def hand_case(**extra) -> Case:
    return Case(parts=[part("HARNESS", "assembly", lead=2), part("PLUG"), part("BRACKET")],
                bom_items=[edge("M1", "HARNESS", "2", rule="(B58 | P2) & !HUD"),
                           edge("HARNESS", "PLUG", "3", scrap="10"),
                           edge("M1", "BRACKET", "1", rule="B48 & !P1 | TOW")],
                volume_plan=[plan_row("P1", "M1", MAY, 100)], option_take_rates=rates_may(), **extra)


def plan_part(result):
    return result.part_demand.where(F.col(n.SOURCE) == n.SOURCE_PLAN)


def test_rule_probability_by_hand():
    rates = TakeRates()
    for r in rates_may():
        rates.add(r["option_code"], r["family"], r["take_rate"])
    # ENGINE: B48 .5, B58 .3, none .2; PAINT: P1 .6, P2 .4; HUD .25 free; TOW has no rate (never taken)
    assert rule_probability(to_dnf("(B58 | P2) & !HUD"), rates) == (1 - Fraction(7, 10) * Fraction(6, 10)) * Fraction(3, 4)
    assert rule_probability(to_dnf("B48 & !P1 | TOW"), rates) == Fraction(1, 2) * Fraction(4, 10)
    assert rule_probability(to_dnf("B48 & B58"), rates) == 0            # one family: exclusive
    assert rule_probability(to_dnf("B48 | B58"), rates) == Fraction(8, 10)
    assert rule_probability(to_dnf("!B48 & !B58"), rates) == Fraction(2, 10)   # no engine code taken
    assert rule_probability(to_dnf(None), rates) == 1


def test_plan_demand_hand_checked(spark):
    case = hand_case()
    result = order_demand(case.frames(spark), run_id="t")
    assert result.problems.count() == 0
    demand = demand_of(plan_part(result))
    p_harness = (1 - Fraction(7, 10) * Fraction(6, 10)) * Fraction(3, 4)   # 0.435
    expected = {("P1", "M1", "HARNESS", MAY): 100 * 2 * p_harness,
                ("P1", "M1", "PLUG", date(2026, 4, 29)): 100 * 2 * p_harness * 3 * Fraction(11, 10),
                ("P1", "M1", "BRACKET", MAY): 100 * Fraction(1, 2) * Fraction(4, 10)}
    assert_matches(demand, expected)
    assert_matches(demand, reference.explode_plan(case.rows()))
    assert result.plan_rows == 1 and result.plan_levels


def test_order_horizon_leaves_covered_months_to_orders(spark):
    case = hand_case(production_orders=[order("O1", "M1", ("B58", "P2"), plant="P1", day=date(2026, 5, 20))])
    case.volume_plan += [plan_row("P1", "M1", JUNE, 50), plan_row("P2", "M1", MAY, 10)]
    case.option_take_rates += [{**r, "month": JUNE} for r in rates_may()]
    case.plants.append({"plant_id": "P2", "name": "P2", "country": "DE", "bpns": None})
    result = order_demand(case.frames(spark), run_id="t")
    planned = {(k[0], k[3].replace(day=1) if k[2] != "PLUG" else None) for k in demand_of(plan_part(result))}
    assert ("P1", MAY) not in planned, "May at P1 has orders: the plan must not count it again"
    assert {("P1", JUNE), ("P2", MAY)} <= planned
    assert (result.plan_rows, result.plan_rows_covered) == (2, 1)
    rows = case.rows()
    assert_matches(demand_of(plan_part(result)), reference.explode_plan(rows))
    assert_matches(demand_of(result.part_demand.where(F.col(n.SOURCE) == n.SOURCE_ORDERS)), reference.explode(rows))


def test_plan_quarantine_reasons(spark):
    case = hand_case()
    case.option_take_rates += [take_rate("M1", JUNE, "B48", "0.7", "ENGINE"), take_rate("M1", JUNE, "B58", "0.6", "ENGINE"),
                               take_rate("M1", JUNE, "HUD", "1.5"), take_rate("NOPE", MAY, "HUD", "0.1"),
                               take_rate("M1", date(2026, 7, 3), "HUD", "0.1")]
    case.volume_plan += [plan_row("P1", "M1", JUNE, 10), plan_row("P1", "NOPE", MAY, 5), plan_row("P9", "M1", MAY, 5),
                         plan_row("P1", "M1", date(2026, 8, 1), -1),
                         plan_row("P1", "M1", date(2026, 9, 1), 5), plan_row("P1", "M1", date(2026, 9, 1), 6),
                         plan_row("P1", "M1", date(2101, 1, 1), 5)]
    case.option_take_rates += [take_rate("M1", date(1999, 1, 1), "HUD", "0.1"),
                               take_rate("M1", date(2026, 9, 1), "HUD", "0.1"), take_rate("M1", date(2026, 9, 1), "HUD", "0.2")]
    result = order_demand(case.frames(spark), run_id="t")
    reasons = {(r.table_name, r.row_key, r.reason) for r in result.problems.collect()}
    assert reasons == {
        (n.OPTION_TAKE_RATES, "M1|2026-06-01|B48", n.FAMILY_OVER_ONE),
        (n.OPTION_TAKE_RATES, "M1|2026-06-01|B58", n.FAMILY_OVER_ONE),
        (n.OPTION_TAKE_RATES, "M1|2026-06-01|HUD", n.TAKE_RATE_OUT_OF_RANGE),
        (n.OPTION_TAKE_RATES, "NOPE|2026-05-01|HUD", n.UNKNOWN_MODEL),
        (n.OPTION_TAKE_RATES, "M1|2026-07-03|HUD", n.INVALID_MONTH),
        (n.VOLUME_PLAN, "P1|M1|2026-06-01", n.TAKE_RATES_QUARANTINED),
        (n.VOLUME_PLAN, "P1|NOPE|2026-05-01", n.UNKNOWN_MODEL),
        (n.VOLUME_PLAN, "P9|M1|2026-05-01", n.UNKNOWN_PLANT),
        (n.VOLUME_PLAN, "P1|M1|2026-08-01", n.INVALID_PLANNED_UNITS),
        (n.VOLUME_PLAN, "P1|M1|2026-09-01", n.DUPLICATE_KEY),            # one duplicated plan key: its two rows,
        (n.VOLUME_PLAN, "P1|M1|2101-01-01", n.DATE_OUT_OF_RANGE),       # never the night
        (n.OPTION_TAKE_RATES, "M1|1999-01-01|HUD", n.DATE_OUT_OF_RANGE),
        (n.OPTION_TAKE_RATES, "M1|2026-09-01|HUD", n.DUPLICATE_KEY),
    }
    # the clean plan row still gets exactly its demand
    assert_matches(demand_of(plan_part(result)), reference.explode_plan(hand_case().rows()))


@pytest.mark.parametrize("broadcast_edge_rows", [2_000_000, 0])
def test_plan_matches_reference_on_a_random_dag(spark, broadcast_edge_rows):
    from tests.random_cases import CODES, PLANTS, random_case
    rng, march = random.Random(11), date(2026, 3, 1)   # effectivity windows of random_case lie around March 2
    case = random_case(11, orders=0)
    case.plants = [{"plant_id": p, "name": p, "country": "DE", "bpns": None} for p in PLANTS]
    for model in sorted(m["model_id"] for m in case.vehicle_models):
        for plant in PLANTS:
            case.volume_plan.append(plan_row(plant, model, march, rng.randint(1, 500)))
        shares = [rng.random() for _ in CODES[:3]]
        total = sum(shares) * 1.25   # the family leaves 20 % of cars without any of its codes
        case.option_take_rates += [take_rate(model, march, c, round(s / total, 6), "FAM") for c, s in zip(CODES[:3], shares)]
        case.option_take_rates += [take_rate(model, march, c, round(rng.random(), 6)) for c in CODES[3:]]
    with without_auto_broadcast(spark, broadcast_edge_rows == 0):
        result = order_demand(case.frames(spark), run_id="t", broadcast_edge_rows=broadcast_edge_rows)
    assert result.problems.count() == 0
    assert_matches(demand_of(plan_part(result)), reference.explode_plan(case.rows()))


def sample_cars(rates: list, count: int, rng: random.Random) -> list[list[str]]:
    """Cars drawn from take rates: per family one code with its rate (or none), every free code on its own."""
    families, free = {}, []
    for r in rates:
        if r.family is None:
            free.append((r.option_code, float(r.take_rate)))
        else:
            families.setdefault(r.family, []).append((r.option_code, float(r.take_rate)))
    cars = []
    for _ in range(count):
        options = []
        for codes in families.values():
            u, acc = rng.random(), 0.0
            for code, rate in codes:
                acc += rate
                if u < acc:
                    options.append(code)
                    break
        options += [code for code, rate in free if rng.random() < rate]
        cars.append(options)
    return cars


def test_plan_agrees_with_exploded_sample_cars(spark, tmp_path):
    """Monte Carlo: the average demand of N cars drawn from the take rates and exploded by the order
    engine lies within 5 standard errors of the plan's demand per planned car, for every part."""
    from adapters.lake import read_source
    from tests.builders import generated_source
    from transforms.bom import explosion_edges
    from transforms.configurations import configurations
    from transforms.engine import screen
    from transforms.explode import explode

    tables = read_source(spark, str(generated_source(tmp_path, 100)))
    plant, model, cars = "SPA", "G05", 4000
    month = tables[n.VOLUME_PLAN].agg(F.min(n.MONTH_START)).first()[0]
    rates = tables[n.OPTION_TAKE_RATES].where((F.col(n.MODEL_ID) == model) & (F.col(n.MONTH_START) == month)).collect()
    no_orders = tables[n.PRODUCTION_ORDERS].limit(0)
    one_car = spark.createDataFrame([(plant, model, month, Decimal(1))], tables[n.VOLUME_PLAN].schema)
    plan = order_demand({**tables, n.PRODUCTION_ORDERS: no_orders, n.VOLUME_PLAN: one_car}, run_id="t").part_demand
    per_car = {(r.part_id, (month - r.demand_date).days): Fraction(r.quantity) for r in plan.collect()}

    orders = spark.createDataFrame(
        [(f"MC{i}", plant, model, month, options, 1) for i, options in enumerate(sample_cars(rates, cars, random.Random(5)))],
        tables[n.PRODUCTION_ORDERS].schema)
    screened = screen({**tables, n.PRODUCTION_ORDERS: orders, n.VOLUME_PLAN: one_car.limit(0)})
    configs = screened.used[n.PRODUCTION_ORDERS].transform(configurations).localCheckpoint(eager=True)
    edges = explosion_edges(screened.used[n.BOM_ITEMS], screened.used[n.PARTS], screened.rules)
    exploded = explode(configs, edges, 64).demand.join(configs.select(n.CONFIG_ID, n.CONFIG_QUANTITY), n.CONFIG_ID)
    sums: dict[tuple, list[Fraction]] = {}
    for r in exploded.collect():   # per (part, offset): sum of x and of x^2 over the cars
        s = sums.setdefault((r.part_id, r.offset_days), [Fraction(0), Fraction(0)])
        s[0] += Fraction(r.config_quantity) * Fraction(r.per_unit)
        s[1] += Fraction(r.config_quantity) * Fraction(r.per_unit) ** 2
    assert set(sums) == set(per_car), "sampled cars and plan reach different parts"
    outside = []
    for key, (total, squares) in sums.items():
        mean = total / cars
        stderr = (float(squares / cars - mean ** 2) / cars) ** 0.5
        if abs(float(mean - per_car[key])) > 5 * stderr + 1e-9:
            outside.append((key, float(mean), float(per_car[key]), stderr))
    assert not outside, f"{len(outside)} parts outside 5 standard errors, e.g. {outside[:3]}"
