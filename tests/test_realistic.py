"""The realistic profile's network (pipeline/realistic.py), checked on the driver against the shape issue 14
asks for. The orders and the engine on it: tests/test_reference_property.py."""
from collections import Counter, defaultdict
from datetime import date

import pytest

from pipeline import realistic
from pipeline.errors import BomflowError
from schemas import names as n
from transforms.graph import labels_below, reachable

START = date(2026, 3, 2)


def reach_of(net, model):
    children = defaultdict(list)
    for row in net.bom:
        children[row[1]].append(row)
    nodes = reachable(((r[1], r[2]) for r in net.bom), [model])[model]
    return [row for node in nodes for row in children.get(node, ())]


def depth_of(net, model) -> int:
    children = defaultdict(set)
    for row in net.bom:
        children[row[1]].add(row[2])
    memo = {}

    def longest(node):
        if node not in memo:
            memo[node] = 1 + max((longest(c) for c in children[node]), default=-1) if children[node] else 0
        return memo[node]
    return longest(model)


@pytest.mark.parametrize("positions, depth", [(5_000, 7), (3_000, 6), (12_000, 8)])
def test_network_has_the_shape_of_a_real_car_maker(positions, depth):
    net = realistic.network(7, START, 28, realistic.Shape(positions=positions, depth=depth))
    assert len(net.plants) >= 40 and len(net.models) >= 12
    assert {brand for _, brand, _ in net.models} == {"BMW", "MINI", "Rolls-Royce"}
    assert all(2 <= len(models) <= 5 for models in net.built_at.values())
    volumes = sorted(net.volume.values())
    assert volumes[-1] >= 3 * volumes[len(volumes) // 2], "one plant several times the others"
    for model, families in net.families.items():
        offered = sum(len(codes) for codes in families.values()) + len(net.free[model])
        assert 250 <= offered <= 400, (model, offered)
        assert len(families["PAINT"]) == 30 and set(families) >= {"ENGINE", "GEARBOX", "STEERING", "MARKET"}
        assert all(abs(sum(codes.values()) - 1) < 1e-9 for codes in families.values())
        assert all(0.05 <= rate <= 0.9 for rate in net.free[model].values())
    for model, _, _ in net.models[:3]:
        rows = reach_of(net, model)
        assert 0.8 * positions <= len(rows) <= 1.25 * positions, (model, len(rows))
        assert depth_of(net, model) == depth
        with_rule = sum(1 for r in rows if r[8]) / len(rows)
        assert 0.1 <= with_rule <= 0.4, with_rule
    parents = Counter(row[2] for row in net.bom)
    kinds = Counter(p[2] for p in net.parts)
    units = Counter(p[3] for p in net.parts)
    assert sum(1 for c in parents.values() if c >= 3) > 100, "sub-assemblies shared by many parents (a DAG)"
    assert kinds[n.PHANTOM] > 0 and sum(units[u] for u in realistic.UNITS_BULK) > 0
    assert any(row[7] for row in net.bom), "plant-specific edges"
    assert any(row[6] for row in net.bom) and any(row[5] > START for row in net.bom), "phase-out and phase-in"
    assert any(row[4] > 0 for row in net.bom), "scrap"


def test_rule_free_sub_structures_exist_below_the_modules():
    """What the projected explosion lives on: most deep assemblies have no rule anywhere below them."""
    net = realistic.network(7, START, 28, realistic.Shape())
    below = labels_below((r[1], r[2], r[8] or "") for r in net.bom)
    deep = [node for node in below if "-L6-" in node or "-L7-" in node]
    assert deep and sum(1 for node in deep if not below[node]) / len(deep) > 0.3
    assert sum(len(below[node]) for node in deep) / len(deep) < 3, "few rules deep down"
    modules = [node for node in below if "-MOD-" in node]
    assert sum(len(below[node]) for node in modules) / len(modules) > 20, "many rules at the module levels"


@pytest.mark.parametrize("knobs", [dict(positions=10), dict(depth=2), dict(rule_share=1.5)])
def test_knobs_out_of_range_are_refused(knobs):
    with pytest.raises(BomflowError):
        realistic.Shape(**knobs)


def test_labels_below_a_shared_node_are_collected_once_for_every_parent():
    edges = [("M", "A", "R1"), ("M", "B", ""), ("A", "S", ""), ("B", "S", "R2"), ("S", "X", "R3"), ("S", "Y", "")]
    below = labels_below(edges)
    assert {k: v for k, v in below.items() if v} == {"M": {"R1", "R2", "R3"}, "A": {"R3"}, "B": {"R2", "R3"}, "S": {"R3"}}
    assert below["X"] == below["Y"] == frozenset()
