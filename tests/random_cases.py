"""Random, valid BOM cases for property tests (seeded, so a failure replays)."""
import random
from datetime import timedelta
from decimal import Decimal

from tests.builders import DAY, Case, edge, order, part

CODES = ["AA", "BB", "CC", "DD", "EE"]
PLANTS = ["P1", "P2", "P3"]


def random_rule(rng: random.Random, depth: int = 0) -> str:
    if depth >= 2 or rng.random() < 0.35:
        code = rng.choice(CODES)
        return f"!{code}" if rng.random() < 0.3 else code
    op = rng.choice([" & ", " | "])
    text = op.join(random_rule(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    return f"!({text})" if rng.random() < 0.2 else f"({text})"


def random_case(seed: int, levels: int = 5, width: int = 4, orders: int = 25) -> Case:
    rng = random.Random(seed)
    layers = [[f"L{lv}N{i}" for i in range(width)] for lv in range(levels)]
    parts = []
    for lv, layer in enumerate(layers):
        for pid in layer:
            kind = "purchased" if lv == levels - 1 else rng.choice(["assembly", "assembly", "phantom", "purchased"])
            parts.append(part(pid, kind, lead=rng.randint(0, 6), unit=rng.choice(["H87", "KGM", "LTR"])))
    kinds = {p["part_id"]: p["part_type"] for p in parts}
    models = ["MA", "MB"]
    bom = []

    def add(parent, child):
        quantity = Decimal(rng.choice(["1", "2", "0.5", "3.25", "0.000123", "12.345678"]))
        scrap = Decimal(rng.choice(["0", "0", "1.5", "8", "33.3333"]))
        rule = random_rule(rng) if rng.random() < 0.5 else None
        plant = rng.choice(PLANTS) if rng.random() < 0.15 else None
        start = DAY + timedelta(days=rng.randint(-3, 3))
        valid_from, valid_to = None, None
        if rng.random() < 0.2:
            valid_from = start
        if rng.random() < 0.2:
            valid_to = start + timedelta(days=rng.randint(1, 4))
        bom.append(edge(parent, child, str(quantity), str(scrap), rule, plant,
                        valid_from=valid_from, valid_to=valid_to))

    for model in models:
        for child in rng.sample(layers[0], k=rng.randint(2, width)):
            add(model, child)
    for lv in range(levels - 1):
        for parent in layers[lv]:
            if kinds[parent] == "purchased":
                continue
            for child in rng.sample([p for layer in layers[lv + 1:] for p in layer], k=rng.randint(1, 3)):
                add(parent, child)
                if rng.random() < 0.1:
                    add(parent, child)  # a parallel edge: same parent and child, another position
    order_rows = [order(f"O{i}", rng.choice(models), rng.sample(CODES, k=rng.randint(0, 4)),
                        quantity=rng.choice([1, 1, 2, 7]), plant=rng.choice(PLANTS),
                        day=DAY + timedelta(days=rng.randint(-4, 4)))
                  for i in range(orders)]
    return Case(parts=parts, bom_items=bom, production_orders=order_rows)
