"""An obviously correct reference explosion: plain Python, path by path, exact Fractions.

Written from the data contract alone and sharing no code with the engine: rules
are evaluated by translating them to Python boolean syntax (same precedence:
not > and > or), and every path of active edges is walked separately.
"""
import re
from collections import defaultdict
from datetime import timedelta
from fractions import Fraction

_CODE = re.compile(r"[A-Z0-9]{2,12}")


def rule_true(rule: str | None, options: set[str]) -> bool:
    if rule is None or not rule.strip():
        return True
    python = re.sub(r"[A-Z0-9]{2,12}", lambda m: repr(m.group(0) in options), rule)
    python = python.replace("!", " not ").replace("&", " and ").replace("|", " or ")
    return bool(eval(python, {"__builtins__": {}}))  # only True/False/not/and/or/() remain


def explode(tables: dict[str, list[dict]], max_depth: int = 64) -> dict[tuple, Fraction]:
    """(plant_id, model_id, part_id, demand_date) -> exact demand, for clean input tables."""
    parts = {p["part_id"]: p for p in tables["parts"]}
    children = defaultdict(list)
    for edge in tables["bom_items"]:
        children[edge["parent_id"]].append(edge)
    demand: dict[tuple, Fraction] = defaultdict(Fraction)

    def active(edge, order) -> bool:
        day = order["production_date"]
        return ((edge["valid_from"] is None or edge["valid_from"] <= day)
                and (edge["valid_to"] is None or day < edge["valid_to"])
                and (edge["plant_id"] is None or edge["plant_id"] == order["plant_id"])
                and rule_true(edge["rule"], set(order["option_codes"] or [])))

    def walk(order, node, node_type, multiplier, offset, depth):
        if depth > max_depth:
            raise RecursionError("deeper than max_depth")
        child_offset = offset + (parts[node]["lead_time_days"] if node_type == "assembly" else 0)
        for edge in children.get(node, []):
            if not active(edge, order):
                continue
            child = parts[edge["child_id"]]
            scrap = Fraction(str(edge["scrap_pct"] or 0))
            m = multiplier * Fraction(str(edge["quantity"])) * (1 + scrap / 100)
            if child["part_type"] in ("assembly", "purchased"):
                key = (order["plant_id"], order["model_id"], child["part_id"],
                       order["production_date"] - timedelta(days=child_offset))
                demand[key] += m
            if child["part_type"] in ("assembly", "phantom"):
                walk(order, child["part_id"], child["part_type"], m, child_offset, depth + 1)

    for order in tables["production_orders"]:
        walk(order, order["model_id"], "model", Fraction(order["quantity"]), 0, 1)
    return dict(demand)
