"""Named explosion cases, each on its own tiny BOM, against the reference and hand-computed values."""
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from schemas import names as n
from tests import reference
from tests.builders import DAY, Case, assert_matches, demand_of, edge, order, part
from transforms.engine import order_demand
from transforms.explode import ExplosionError


def run_case(spark, case: Case, max_depth: int = 64):
    result = order_demand(case.frames(spark), run_id="test", max_depth=max_depth)
    assert result.problems.count() == 0, result.problems.collect()
    return result


def check(spark, case: Case) -> dict:
    """Engine == reference on every key; returns the engine's demand for further hand checks."""
    actual = demand_of(run_case(spark, case).part_demand)
    assert_matches(actual, reference.explode(case.rows()))
    return actual


def test_shared_subassembly_reached_by_two_paths(spark):
    case = Case(parts=[part("SEAT", "assembly"), part("ARMREST", "assembly"), part("BOLT")],
                bom_items=[edge("M1", "SEAT", "2"), edge("M1", "ARMREST", "1"),
                           edge("SEAT", "BOLT", "4"), edge("ARMREST", "BOLT", "3")],
                production_orders=[order("O1", "M1", quantity=5)])
    demand = check(spark, case)
    assert demand[("P1", "M1", "BOLT", DAY)] == Decimal(5 * (2 * 4 + 1 * 3))
    assert demand[("P1", "M1", "SEAT", DAY)] == 10


def test_phantom_between_two_assemblies_gets_no_demand(spark):
    case = Case(parts=[part("ENGINE", "assembly", lead=3), part("KIT", "phantom", lead=9),
                       part("HEAD", "assembly", lead=2), part("VALVE")],
                bom_items=[edge("M1", "ENGINE"), edge("ENGINE", "KIT", "2"), edge("KIT", "HEAD", "3"),
                           edge("HEAD", "VALVE", "4")],
                production_orders=[order("O1", "M1")])
    demand = check(spark, case)
    assert {k[2] for k in demand} == {"ENGINE", "HEAD", "VALVE"}
    # the phantom's own lead time does not count: HEAD needed 3 days before production, VALVE 3 + 2
    assert demand[("P1", "M1", "HEAD", DAY - timedelta(days=3))] == 6
    assert demand[("P1", "M1", "VALVE", DAY - timedelta(days=5))] == 24


def test_scrap_on_two_levels_multiplies(spark):
    case = Case(parts=[part("BODY", "assembly"), part("PAINT", unit="KGM")],
                bom_items=[edge("M1", "BODY", "1", scrap="10"), edge("BODY", "PAINT", "3.5", scrap="8")],
                production_orders=[order("O1", "M1", quantity=3)])
    demand = check(spark, case)
    assert demand[("P1", "M1", "BODY", DAY)] == Decimal("3.3")
    assert demand[("P1", "M1", "PAINT", DAY)] == Decimal("3") * Decimal("1.1") * Decimal("3.5") * Decimal("1.08")


def test_phase_in_phase_out_boundary_day(spark):
    switch = DAY + timedelta(days=1)
    case = Case(parts=[part("OLD"), part("NEW")],
                bom_items=[edge("M1", "OLD", valid_to=switch), edge("M1", "NEW", valid_from=switch)],
                production_orders=[order("O1", "M1", day=DAY), order("O2", "M1", day=switch)])
    demand = check(spark, case)
    assert set(demand) == {("P1", "M1", "OLD", DAY), ("P1", "M1", "NEW", switch)}


def test_plant_specific_edge(spark):
    case = Case(parts=[part("LABEL-US"), part("WHEEL")],
                bom_items=[edge("M1", "WHEEL", "4"), edge("M1", "LABEL-US", plant="SPA")],
                production_orders=[order("O1", "M1", plant="SPA"), order("O2", "M1", plant="DIN")])
    demand = check(spark, case)
    assert ("SPA", "M1", "LABEL-US", DAY) in demand
    assert ("DIN", "M1", "LABEL-US", DAY) not in demand
    assert demand[("DIN", "M1", "WHEEL", DAY)] == 4


RULE_CASES = [((), True), (("AA",), False), (("BB",), False), (("AA", "BB"), False),
              (("AA", "CC"), True), (("BB", "CC"), True), (("AA", "BB", "CC"), True)]


def test_negated_and_parenthesised_rule(spark):
    """Every option set of the rule's codes in one run: one order per set, each at its own plant."""
    case = Case(parts=[part("X")], bom_items=[edge("M1", "X", rule="!(AA | BB) | CC & !(AA & BB & !CC)")],
                production_orders=[order(f"O{i}", "M1", options, plant=f"P{i}")
                                   for i, (options, _) in enumerate(RULE_CASES)])
    demand = check(spark, case)
    for i, (options, gets_part) in enumerate(RULE_CASES):
        assert ((f"P{i}", "M1", "X", DAY) in demand) == gets_part, options


def test_offsets_across_three_assembly_levels(spark):
    case = Case(parts=[part("A1", "assembly", lead=2), part("A2", "assembly", lead=3),
                       part("A3", "assembly", lead=5), part("LEAF", lead=11)],
                bom_items=[edge("M1", "A1"), edge("A1", "A2"), edge("A2", "A3"), edge("A3", "LEAF")],
                production_orders=[order("O1", "M1")])
    result = run_case(spark, case)
    rows = {r.part_id: (r.demand_date, r.order_date) for r in result.part_demand.collect()}
    assert rows["A1"] == (DAY, DAY - timedelta(days=2))
    assert rows["A2"] == (DAY - timedelta(days=2), DAY - timedelta(days=5))
    assert rows["A3"] == (DAY - timedelta(days=5), DAY - timedelta(days=10))
    assert rows["LEAF"] == (DAY - timedelta(days=10), DAY - timedelta(days=21))
    assert_matches(demand_of(result.part_demand), reference.explode(case.rows()))


def test_decimal_bulk_quantities_stay_exact(spark):
    case = Case(parts=[part("OIL", unit="LTR"), part("SEALANT", unit="KGM")],
                bom_items=[edge("M1", "OIL", "5.250001", scrap="3.1234"), edge("M1", "SEALANT", "0.000007")],
                production_orders=[order(f"O{i}", "M1", quantity=7) for i in range(3)])
    demand = check(spark, case)
    assert demand[("P1", "M1", "OIL", DAY)] == Decimal("21") * Decimal("5.250001") * Decimal("1.031234")
    assert demand[("P1", "M1", "SEALANT", DAY)] == Decimal("0.000147")


def test_small_quantities_on_a_deep_path_keep_their_precision(spark):
    """7 levels of fractional quantities with scrap, one order of a million cars.

    If Spark cut the scale to 6 on a decimal product (allowPrecisionLoss), the
    per-car quantity 0.05^7 * 1.031234^7 ~ 9.6e-10 would round to 0 and the
    demand (~9.6e-4) would be off by far more than the 1e-6 tolerance.
    """
    chain = [f"L{i}" for i in range(1, 8)]
    parts = [part(p, "assembly") for p in chain[:-1]] + [part(chain[-1], unit="KGM")]
    bom = [edge("M1", chain[0], "0.05", scrap="3.1234")]
    bom += [edge(a, b, "0.05", scrap="3.1234") for a, b in zip(chain, chain[1:])]
    case = Case(parts=parts, bom_items=bom, production_orders=[order("O1", "M1", quantity=1_000_000)])
    demand = check(spark, case)
    exact = Fraction(1_000_000) * (Fraction("0.05") * Fraction("1.031234")) ** 7
    assert abs(Fraction(demand[("P1", "M1", "L7", DAY)]) - exact) < Fraction(1, 10**9)  # scale 6 would miss by ~1e-3


def test_dag_with_two_to_the_twenty_paths(spark):
    """20 levels, two parallel edges per level: 2^20 paths, aggregated per level, never enumerated."""
    depth = 20
    nodes = [f"N{i:02d}" for i in range(depth)]
    parts = [part(p, "assembly") for p in nodes] + [part("LEAF")]
    bom = [edge("M1", nodes[0], bom_item_id="ROOT")]
    for i, (a, b) in enumerate(zip(nodes, nodes[1:] + ["LEAF"])):
        bom += [edge(a, b, bom_item_id=f"X{i}"), edge(a, b, bom_item_id=f"Y{i}")]
    case = Case(parts=parts, bom_items=bom, production_orders=[order("O1", "M1", quantity=3)])
    result = run_case(spark, case)
    demand = demand_of(result.part_demand)
    assert demand[("P1", "M1", "LEAF", DAY)] == 3 * 2**depth
    assert all(demand[("P1", "M1", node, DAY)] == 3 * 2**i for i, node in enumerate(nodes))
    assert len(result.levels) == depth + 1


def test_cycle_is_reported_and_never_exploded(spark):
    case = Case(parts=[part("A", "assembly"), part("B", "assembly"), part("C")],
                bom_items=[edge("M1", "A"), edge("A", "B"), edge("B", "A"), edge("B", "C")],
                production_orders=[order("O1", "M1")])
    result = order_demand(case.frames(spark), run_id="test")
    problems = {(r.row_key, r.reason) for r in result.problems.collect()}
    assert problems == {("E0002", n.CYCLE), ("E0003", n.CYCLE), ("O1", n.MODEL_BLOCKED)}
    assert set(result.blocked) == {"M1"} and "E0002 (cycle)" in result.blocked["M1"]
    assert result.part_demand.count() == 0


def test_depth_bound_stops_a_bom_deeper_than_allowed(spark):
    chain = [f"D{i}" for i in range(8)]
    case = Case(parts=[part(p, "assembly") for p in chain],
                bom_items=[edge("M1", chain[0])] + [edge(a, b) for a, b in zip(chain, chain[1:])],
                production_orders=[order("O1", "M1")])
    with pytest.raises(ExplosionError, match="max_depth=5"):
        run_case(spark, case, max_depth=5)


def test_orders_sharing_a_configuration_explode_once(spark):
    case = Case(parts=[part("X")], bom_items=[edge("M1", "X", "2")],
                production_orders=[order("O1", "M1", ["BB", "AA"]), order("O2", "M1", ["AA", "BB"], quantity=4),
                                   order("O3", "M1", ["AA"])])
    result = run_case(spark, case)
    assert (result.orders, result.signatures) == (3, 1)   # no rule tells the option sets apart
    assert demand_of(result.part_demand)[("P1", "M1", "X", DAY)] == 12


def test_orders_explode_once_per_variant_signature(spark):
    """Signature = (plant, model, effectivity epoch, outcome of the model's own rules); nothing else splits it."""
    change = DAY + timedelta(days=2)
    case = Case(parts=[part("X"), part("OLD"), part("NEW"), part("SUB", "assembly"), part("Z")],
                bom_items=[edge("M1", "X", "2", rule="AA"), edge("M1", "OLD", valid_to=change),
                           edge("M1", "NEW", valid_from=change),
                           edge("M2", "SUB"), edge("SUB", "Z", rule="BB")],   # BB is not M1's rule
                production_orders=[order("O1", "M1", ["AA"]), order("O2", "M1", ["AA", "CC"]),
                                   order("O3", "M1", ["BB"]), order("O4", "M1", ["AA"], day=DAY + timedelta(days=1)),
                                   order("O5", "M1", ["AA"], day=change + timedelta(days=1), quantity=3),
                                   order("O6", "M1", ["AA"], plant="P2"),
                                   order("O7", "M2", ["BB"]), order("O8", "M2", [])])
    result = run_case(spark, case)
    assert_matches(demand_of(result.part_demand), reference.explode(case.rows()))
    # M1: P1 {AA} epoch 0 (O1, O2, O4), P1 {} epoch 0 (O3), P1 {AA} epoch 1 (O5), P2 {AA} (O6); M2: {BB}, {}
    assert (result.orders, result.signatures, result.dated_signatures) == (8, 6, 7)
