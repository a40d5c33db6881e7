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


def effective(edge, plant_id, day) -> bool:
    return ((edge["valid_from"] is None or edge["valid_from"] <= day)
            and (edge["valid_to"] is None or day < edge["valid_to"])
            and (edge["plant_id"] is None or edge["plant_id"] == plant_id))


def walk_paths(tables: dict[str, list[dict]], plant_id, model_id, day, quantity: Fraction, weight,
               demand: dict, max_depth: int = 64) -> None:
    """Add to demand every path from model_id; weight(edge) is the edge's usage (0 = not used)."""
    parts = {p["part_id"]: p for p in tables["parts"]}
    children = defaultdict(list)
    for edge in tables["bom_items"]:
        children[edge["parent_id"]].append(edge)

    def walk(node, node_type, multiplier, offset, depth):
        if depth > max_depth:
            raise RecursionError("deeper than max_depth")
        child_offset = offset + (parts[node]["lead_time_days"] if node_type == "assembly" else 0)
        for edge in children.get(node, []):
            usage = weight(edge)
            if not usage:
                continue
            child = parts[edge["child_id"]]
            scrap = Fraction(str(edge["scrap_pct"] or 0))
            m = multiplier * usage * Fraction(str(edge["quantity"])) * (1 + scrap / 100)
            if child["part_type"] in ("assembly", "purchased"):
                demand[(plant_id, model_id, child["part_id"], day - timedelta(days=child_offset))] += m
            if child["part_type"] in ("assembly", "phantom"):
                walk(child["part_id"], child["part_type"], m, child_offset, depth + 1)

    walk(model_id, "model", quantity, 0, 1)


def explode(tables: dict[str, list[dict]], max_depth: int = 64) -> dict[tuple, Fraction]:
    """(plant_id, model_id, part_id, demand_date) -> exact demand of the orders, for clean input tables."""
    demand: dict[tuple, Fraction] = defaultdict(Fraction)
    for o in tables["production_orders"]:
        options = set(o["option_codes"] or [])

        def used(edge, o=o, options=options):
            return effective(edge, o["plant_id"], o["production_date"]) and rule_true(edge["rule"], options)
        walk_paths(tables, o["plant_id"], o["model_id"], o["production_date"], Fraction(o["quantity"]), used,
                   demand, max_depth)
    return dict(demand)

def cars(rates: list[dict]) -> list[tuple[set[str], Fraction]]:
    """Every complete option set of one (model, month) with its probability: one code (or none) per
    family, each free code taken or not, all independent."""
    families, free = defaultdict(dict), {}
    for r in rates:
        rate = Fraction(str(r["take_rate"]))
        if r["family"] is None:
            free[r["option_code"]] = rate
        else:
            families[r["family"]][r["option_code"]] = rate
    outcomes = [[({code}, rate) for code, rate in codes.items()] + [(set(), 1 - sum(codes.values()))]
                for codes in families.values()]
    outcomes += [[({code}, rate), (set(), 1 - rate)] for code, rate in free.items()]
    result = [(set(), Fraction(1))]
    for choices in outcomes:
        result = [(chosen | taken, p * q) for chosen, p in result for taken, q in choices if p * q]
    return result


def explode_plan(tables: dict[str, list[dict]]) -> dict[tuple, Fraction]:
    """Plan demand as the contract defines it: per path, planned_units x product of quantity x scrap x P(rule).

    P(rule) is summed over every complete car (cars()) on which the rule is true.
    Applies the horizon rule: a plan month is used when it starts after the month
    of the last order of its (plant, model).
    """
    last_order_month = {}
    for o in tables["production_orders"]:
        key, month = (o["plant_id"], o["model_id"]), o["production_date"].replace(day=1)
        last_order_month[key] = max(month, last_order_month.get(key, month))
    demand: dict[tuple, Fraction] = defaultdict(Fraction)
    for row in tables["volume_plan"]:
        covered = last_order_month.get((row["plant_id"], row["model_id"]))
        if covered is not None and row["month"] <= covered:
            continue
        every_car = cars([r for r in tables["option_take_rates"]
                          if r["model_id"] == row["model_id"] and r["month"] == row["month"]])

        def usage(edge, row=row, every_car=every_car):
            if not effective(edge, row["plant_id"], row["month"]):
                return 0
            return sum((p for options, p in every_car if rule_true(edge["rule"], options)), Fraction(0))
        walk_paths(tables, row["plant_id"], row["model_id"], row["month"], Fraction(str(row["planned_units"])),
                   usage, demand)
    return {k: v for k, v in demand.items() if v}
