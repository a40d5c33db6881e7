"""Cycle search on the BOM graph and Catena-X BPN check characters."""
import random

import pytest

from schemas import bpn
from transforms.graph import cycle_pairs


def reaches(pairs, start, goal):
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for p, c in pairs:
            if p == node and c not in seen:
                if c == goal:
                    return True
                seen.add(c)
                todo.append(c)
    return False


def test_cycle_pairs_on_known_graph():
    pairs = [("M", "A"), ("A", "B"), ("B", "C"), ("C", "A"), ("C", "D"), ("D", "D"), ("M", "E"), ("E", "C")]
    assert cycle_pairs(pairs) == {("A", "B"), ("B", "C"), ("C", "A"), ("D", "D")}


def test_dag_has_no_cycle_pairs():
    assert cycle_pairs([("M", "A"), ("A", "B"), ("M", "B"), ("B", "C")]) == set()


@pytest.mark.parametrize("seed", range(5))
def test_cycle_pairs_equal_mutual_reachability(seed):
    rng = random.Random(seed)
    nodes = [f"N{i}" for i in range(12)]
    pairs = list({(rng.choice(nodes), rng.choice(nodes)) for _ in range(20)})
    expected = {(p, c) for p, c in pairs if reaches(pairs, c, p)}
    assert cycle_pairs(pairs) == expected


def test_long_chain_closed_into_a_ring_needs_no_recursion():
    n = 50_000
    pairs = [(str(i), str(i + 1)) for i in range(n)] + [(str(n), "0")]
    assert len(cycle_pairs(pairs)) == n + 1


def test_bpn_check_characters_match_catena_x_examples():
    assert bpn.is_valid("BPNL000000000BXT")
    assert bpn.is_valid("BPNS0000000000WN")
    assert not bpn.is_valid("BPNL6666666666YY")   # the schema example's placeholder
    assert not bpn.is_valid("BPNL000000000BXU")
    assert bpn.make("L", "00000ZF001").startswith("BPNL00000ZF001") and bpn.is_valid(bpn.make("L", "00000ZF001"))
