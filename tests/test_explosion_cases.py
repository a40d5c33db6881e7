"""Named explosion cases, each on its own tiny BOM, against the reference and hand-computed values.

Most cases run together: `CASES` is one input in which every case has its own models and parts
(`builders.combined`), exploded once for the module, so each case costs its checks rather than a
whole engine run. That also shows that one model's defect (the cycle) leaves the others alone.
"""
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from schemas import names as n
from tests import reference
from tests.builders import DAY, Case, assert_matches, case_slice, combined, demand_of, edge, order, part
from transforms.engine import order_demand
from transforms.explode import ExplosionError


def run_case(spark, case: Case, max_depth: int = 64):
    result = order_demand(case.frames(spark), run_id="test", max_depth=max_depth)
    assert result.problems.count() == 0, result.problems.collect()
    return result


def shared_subassembly():
    return Case(parts=[part("SEAT", "assembly"), part("ARMREST", "assembly"), part("BOLT")],
                bom_items=[edge("M1", "SEAT", "2"), edge("M1", "ARMREST", "1"),
                           edge("SEAT", "BOLT", "4"), edge("ARMREST", "BOLT", "3")],
                production_orders=[order("O1", "M1", quantity=5)])


def phantom():
    return Case(parts=[part("ENGINE", "assembly", lead=3), part("KIT", "phantom", lead=9),
                       part("HEAD", "assembly", lead=2), part("VALVE")],
                bom_items=[edge("M1", "ENGINE"), edge("ENGINE", "KIT", "2"), edge("KIT", "HEAD", "3"),
                           edge("HEAD", "VALVE", "4")],
                production_orders=[order("O1", "M1")])


def scrap():
    return Case(parts=[part("BODY", "assembly"), part("PAINT", unit="KGM")],
                bom_items=[edge("M1", "BODY", "1", scrap="10"), edge("BODY", "PAINT", "3.5", scrap="8")],
                production_orders=[order("O1", "M1", quantity=3)])


SWITCH = DAY + timedelta(days=1)


def phase_in_out():
    return Case(parts=[part("OLD"), part("NEW")],
                bom_items=[edge("M1", "OLD", valid_to=SWITCH), edge("M1", "NEW", valid_from=SWITCH)],
                production_orders=[order("O1", "M1", day=DAY), order("O2", "M1", day=SWITCH)])


def plant_edge():
    return Case(parts=[part("LABEL-US"), part("WHEEL")],
                bom_items=[edge("M1", "WHEEL", "4"), edge("M1", "LABEL-US", plant="SPA")],
                production_orders=[order("O1", "M1", plant="SPA"), order("O2", "M1", plant="DIN")])


RULE_CASES = [((), True), (("AA",), False), (("BB",), False), (("AA", "BB"), False),
              (("AA", "CC"), True), (("BB", "CC"), True), (("AA", "BB", "CC"), True)]


def negated_rule():
    """Every option set of the rule's codes: one order per set, each at its own plant."""
    return Case(parts=[part("X")], bom_items=[edge("M1", "X", rule="!(AA | BB) | CC & !(AA & BB & !CC)")],
                production_orders=[order(f"O{i}", "M1", options, plant=f"P{i}")
                                   for i, (options, _) in enumerate(RULE_CASES)])


def offsets():
    return Case(parts=[part("A1", "assembly", lead=2), part("A2", "assembly", lead=3),
                       part("A3", "assembly", lead=5), part("LEAF", lead=11)],
                bom_items=[edge("M1", "A1"), edge("A1", "A2"), edge("A2", "A3"), edge("A3", "LEAF")],
                production_orders=[order("O1", "M1")])


def bulk():
    return Case(parts=[part("OIL", unit="LTR"), part("SEALANT", unit="KGM")],
                bom_items=[edge("M1", "OIL", "5.250001", scrap="3.1234"), edge("M1", "SEALANT", "0.000007")],
                production_orders=[order(f"O{i}", "M1", quantity=7) for i in range(3)])


DEEP = [f"L{i}" for i in range(1, 8)]


def deep_small():
    """7 levels of fractional quantities with scrap, one order of a million cars."""
    parts = [part(p, "assembly") for p in DEEP[:-1]] + [part(DEEP[-1], unit="KGM")]
    bom = [edge("M1", DEEP[0], "0.05", scrap="3.1234")]
    bom += [edge(a, b, "0.05", scrap="3.1234") for a, b in zip(DEEP, DEEP[1:])]
    return Case(parts=parts, bom_items=bom, production_orders=[order("O1", "M1", quantity=1_000_000)])


DIAMOND_DEPTH = 20
DIAMOND = [f"N{i:02d}" for i in range(DIAMOND_DEPTH)]


def diamond():
    """20 levels, two parallel edges per level: 2^20 paths."""
    parts = [part(p, "assembly") for p in DIAMOND] + [part("LEAF")]
    bom = [edge("M1", DIAMOND[0], bom_item_id="ROOT")]
    for i, (a, b) in enumerate(zip(DIAMOND, DIAMOND[1:] + ["LEAF"])):
        bom += [edge(a, b, bom_item_id=f"X{i}"), edge(a, b, bom_item_id=f"Y{i}")]
    return Case(parts=parts, bom_items=bom, production_orders=[order("O1", "M1", quantity=3)])


def cycle():
    return Case(parts=[part("A", "assembly"), part("B", "assembly"), part("C")],
                bom_items=[edge("M1", "A"), edge("A", "B"), edge("B", "A"), edge("B", "C")],
                production_orders=[order("O1", "M1")])


CASES = {"SHARED": shared_subassembly(), "PHANTOM": phantom(), "SCRAP": scrap(), "PHASE": phase_in_out(),
         "PLANT": plant_edge(), "RULE": negated_rule(), "OFFSET": offsets(), "BULK": bulk(), "DEEP": deep_small(),
         "DIAMOND": diamond(), "CYCLE": cycle()}


UNREFERENCED = {"DIAMOND", "CYCLE"}   # 2^20 paths one by one take the reference too long; a cycle has no paths


@pytest.fixture(scope="module")
def together(spark):
    """One engine run over every case of CASES: its result, demand, part_demand rows and problems."""
    case = combined(CASES)
    result = order_demand(case.frames(spark), run_id="test")
    rows = result.part_demand.collect()
    return {"result": result, "rows": rows, "problems": {(r.row_key, r.reason) for r in result.problems.collect()},
            "demand": {(r.plant_id, r.model_id, r.part_id, r.demand_date): r.quantity for r in rows},
            "reference": reference.explode(combined({t: c for t, c in CASES.items() if t not in UNREFERENCED}).rows())}


def check(together, tag: str) -> dict:
    """Case `tag` has no problem rows, and engine == reference on every one of its keys (unless the
    reference cannot walk it); returns its demand."""
    assert not {p for p in together["problems"] if p[0].startswith(f"{tag}-")}, together["problems"]
    actual = case_slice(together["demand"], tag)
    assert actual, f"case {tag} has no demand"
    if tag not in UNREFERENCED:
        assert_matches(actual, case_slice(together["reference"], tag))
    return actual


def test_shared_subassembly_reached_by_two_paths(together):
    demand = check(together, "SHARED")
    assert demand[("P1", "M1", "BOLT", DAY)] == Decimal(5 * (2 * 4 + 1 * 3))
    assert demand[("P1", "M1", "SEAT", DAY)] == 10


def test_phantom_between_two_assemblies_gets_no_demand(together):
    demand = check(together, "PHANTOM")
    assert {k[2] for k in demand} == {"ENGINE", "HEAD", "VALVE"}
    # the phantom's own lead time does not count: HEAD needed 3 days before production, VALVE 3 + 2
    assert demand[("P1", "M1", "HEAD", DAY - timedelta(days=3))] == 6
    assert demand[("P1", "M1", "VALVE", DAY - timedelta(days=5))] == 24


def test_scrap_on_two_levels_multiplies(together):
    demand = check(together, "SCRAP")
    assert demand[("P1", "M1", "BODY", DAY)] == Decimal("3.3")
    assert demand[("P1", "M1", "PAINT", DAY)] == Decimal("3") * Decimal("1.1") * Decimal("3.5") * Decimal("1.08")


def test_phase_in_phase_out_boundary_day(together):
    demand = check(together, "PHASE")
    assert set(demand) == {("P1", "M1", "OLD", DAY), ("P1", "M1", "NEW", SWITCH)}


def test_plant_specific_edge(together):
    demand = check(together, "PLANT")
    assert ("SPA", "M1", "LABEL-US", DAY) in demand
    assert ("DIN", "M1", "LABEL-US", DAY) not in demand
    assert demand[("DIN", "M1", "WHEEL", DAY)] == 4


def test_negated_and_parenthesised_rule(together):
    demand = check(together, "RULE")
    for i, (options, gets_part) in enumerate(RULE_CASES):
        assert ((f"P{i}", "M1", "X", DAY) in demand) == gets_part, options


def test_offsets_across_three_assembly_levels(together):
    check(together, "OFFSET")
    rows = {r.part_id: (r.demand_date, r.order_date) for r in together["rows"] if r.model_id == "OFFSET-M1"}
    assert rows["OFFSET-A1"] == (DAY, DAY - timedelta(days=2))
    assert rows["OFFSET-A2"] == (DAY - timedelta(days=2), DAY - timedelta(days=5))
    assert rows["OFFSET-A3"] == (DAY - timedelta(days=5), DAY - timedelta(days=10))
    assert rows["OFFSET-LEAF"] == (DAY - timedelta(days=10), DAY - timedelta(days=21))


def test_decimal_bulk_quantities_stay_exact(together):
    demand = check(together, "BULK")
    assert demand[("P1", "M1", "OIL", DAY)] == Decimal("21") * Decimal("5.250001") * Decimal("1.031234")
    assert demand[("P1", "M1", "SEALANT", DAY)] == Decimal("0.000147")


def test_small_quantities_on_a_deep_path_keep_their_precision(together):
    """If Spark cut the scale to 6 on a decimal product (allowPrecisionLoss), the per-car quantity
    0.05^7 * 1.031234^7 ~ 9.6e-10 would round to 0 and the demand (~9.6e-4) would be off by far more
    than the 1e-6 tolerance."""
    demand = check(together, "DEEP")
    exact = Fraction(1_000_000) * (Fraction("0.05") * Fraction("1.031234")) ** 7
    assert abs(Fraction(demand[("P1", "M1", "L7", DAY)]) - exact) < Fraction(1, 10**9)  # scale 6 would miss by ~1e-3


def test_dag_with_two_to_the_twenty_paths(together):
    """Aggregated per level, never enumerated; the deepest case of CASES, so it sets the run's levels."""
    demand = check(together, "DIAMOND")
    assert demand[("P1", "M1", "LEAF", DAY)] == 3 * 2**DIAMOND_DEPTH
    assert all(demand[("P1", "M1", node, DAY)] == 3 * 2**i for i, node in enumerate(DIAMOND))
    assert len(together["result"].levels) == DIAMOND_DEPTH + 1


def test_cycle_is_reported_and_never_exploded(together):
    mine = {p for p in together["problems"] if p[0].startswith("CYCLE-")}
    assert mine == {("CYCLE-E0002", n.CYCLE), ("CYCLE-E0003", n.CYCLE), ("CYCLE-O1", n.MODEL_BLOCKED)}
    assert set(together["result"].blocked) == {"CYCLE-M1"}
    assert "CYCLE-E0002 (cycle)" in together["result"].blocked["CYCLE-M1"]
    assert not case_slice(together["demand"], "CYCLE")


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


def test_cars_merge_below_a_rule_free_sub_assembly(spark):
    """Issue 14: below a node only the rules of its sub-structure tell cars apart. Six cars of one (plant,
    model, date), each its own signature (AA/BB/CC differ); SEAT's sub-structure names only CC, DASH's none.
    Level 1 keeps SEAT per CC outcome (2 rows) and one row each for DASH, HUD (AA cars) and FRAME (BB cars),
    where a frontier of signatures holds 6 + 6 + 3 + 3 = 18. Level 2: HEATER (the CC group), FRAME (both
    SEAT groups merged) and CLIP: 3 rows, not 3 + 6 + 6. The demand equals the path-by-path reference."""
    opts = [["AA"], ["AA", "BB"], ["AA", "CC"], ["BB"], ["BB", "CC"], ["CC"]]
    case = Case(parts=[part("SEAT", "assembly"), part("DASH", "assembly"), part("HUD"), part("HEATER"),
                       part("FRAME"), part("CLIP")],
                bom_items=[edge("M1", "SEAT", "2"), edge("M1", "DASH"), edge("M1", "HUD", rule="AA & !BB | AA"),
                           edge("SEAT", "HEATER", rule="CC"), edge("SEAT", "FRAME", "2"), edge("DASH", "CLIP", "12"),
                           edge("M1", "FRAME", rule="BB")],   # FRAME also straight from the model, for BB cars
                production_orders=[order(f"O{i}", "M1", o, quantity=i + 1) for i, o in enumerate(opts)])
    result = run_case(spark, case)
    assert result.signatures == 6
    assert [level.rows for level in result.levels] == [5, 3]
    assert_matches(demand_of(result.part_demand), reference.explode(case.rows()))
