"""The realistic profile of `bomflow generate` (issue 14): the variant density of a real car maker.

    bomflow generate --profile realistic --out DIR [--scale SF] [--positions N] [--depth D] [--rule-share S]

Every car is close to unique: each order carries one code of every option family (engine, gearbox,
about 30 paints, upholstery, wheels, steering side, market) plus its free options (take rates 5-90 %),
80-150 codes in all. Each model's 150 % BOM holds about `positions` edges over `depth` levels:

  model -> about 40 modules (a quarter shared by the models of a brand; most chosen by a rule)
        -> assemblies -> sub-assemblies ... (drawn from the brand's pools: a DAG, shared by many parents)
        -> purchased parts (a brand pool, a few of them bulk materials in KGM/LTR/MTR/MTK)

A rule names 1-4 codes. Rules sit mostly on the module-selection levels (families and free options);
deeper down they are few and drawn from a small set (market labels, left/right-hand-drive brackets),
so the rule-free sub-structure below a module is large, as in a real BOM. A few percent of the leaf
edges are phased out inside the order window and replaced by a successor part, about 1 % are
plant-specific, a fifth carry scrap, and about 5 % of the assemblies are phantoms.

The network and the BOM are built on the driver from a seeded random.Random (tens of thousands of
rows); the orders are Spark expressions (seeded hashes, no Python per row), so any scale is
deterministic. The profile writes the same tables as the sample profile (pipeline/generate.py).
"""
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

from pipeline.errors import BomflowError
from schemas import bpn
from schemas import names as n

ORDERS_PER_SCALE = 1_000_000   # SF 1
BRANDS = {"BMW": ["G20", "G30", "G05", "G07", "G45", "U11"], "MINI": ["F65", "F66", "J01", "U25"],
          "Rolls-Royce": ["RR31", "RR25"]}
FAMILIES = {"ENGINE": 5, "GEARBOX": 2, "PAINT": 30, "UPHOLSTERY": 15, "WHEELS": 10, "STEERING": 2, "MARKET": 8}
FREE_OPTIONS = (210, 270)      # free option codes a model offers (of a pool of 400)
TAKE_RATES = (0.05, 0.9)
MODULES = 40
PLANTS = 42
UNITS_BULK = ("KGM", "LTR", "MTR", "MTK")
DEEP_RULES = ("LL", "RL", "MKT01", "MKT02", "!MKT01", "MKT03 | MKT04", "LL & MKT02", "RL & !MKT05")


@dataclass(frozen=True)
class Shape:
    """The knobs of the realistic profile."""
    positions: int = 5_000     # BOM edges reachable from each model (about; 3,000-20,000 is realistic)
    depth: int = 7             # levels below the model (6-8)
    rule_share: float = 0.35   # share of all edges that carry a rule

    def __post_init__(self):
        if not 500 <= self.positions <= 200_000:
            raise BomflowError(f"--positions {self.positions}: give 500 to 200,000 BOM edges per model")
        if not 3 <= self.depth <= 12:
            raise BomflowError(f"--depth {self.depth}: give 3 to 12 levels below the model")
        if not 0 <= self.rule_share <= 1:
            raise BomflowError(f"--rule-share {self.rule_share}: give a share from 0 to 1")


@dataclass
class Network:
    plants: list = field(default_factory=list)        # (plant_id, name, country, bpns)
    volume: dict = field(default_factory=dict)        # plant_id -> relative order volume
    models: list = field(default_factory=list)        # (model_id, brand, name)
    built_at: dict = field(default_factory=dict)      # plant_id -> {model_id: share}
    families: dict = field(default_factory=dict)      # model_id -> {family: {code: weight}}
    free: dict = field(default_factory=dict)          # model_id -> {code: take rate}
    parts: list = field(default_factory=list)         # PARTS rows
    bom: list = field(default_factory=list)           # BOM_ITEMS rows


def _family_codes(family: str, count: int) -> list[str]:
    prefix = {"ENGINE": "E", "GEARBOX": "G", "PAINT": "P", "UPHOLSTERY": "U", "WHEELS": "W", "MARKET": "MKT"}
    if family == "STEERING":
        return ["LL", "RL"]
    return [f"{prefix[family]}{i:02d}" for i in range(1, count + 1)]


def network(seed: int, start: date, days: int, shape: Shape) -> Network:
    """Plants, models, options, parts and the 150 % BOM of the realistic profile."""
    rnd, net = random.Random(seed), Network()
    net.models = [(m, brand, f"{brand} {m}") for brand, ms in BRANDS.items() for m in ms]
    model_ids = [m for m, _, _ in net.models]
    for i in range(1, PLANTS + 1):
        pid = f"P{i:02d}"
        net.plants.append((pid, f"Plant {i:02d}", rnd.choice(["DE", "DE", "US", "GB", "CN", "ZA", "MX", "AT"]),
                           bpn.make("S", f"0000{pid}PL1")))
        net.volume[pid] = 6.0 if i == 1 else round(rnd.uniform(0.6, 1.4), 3)   # one plant several times the others
        built = rnd.sample(model_ids, rnd.randint(2, 4))
        net.built_at[pid] = {m: round(rnd.uniform(0.2, 1.0), 3) for m in built}
    for j, m in enumerate(model_ids):   # every model built somewhere
        if not any(m in b for b in net.built_at.values()):
            net.built_at[f"P{(j % PLANTS) + 1:02d}"][m] = 0.5
    pool = [f"S{i:03X}" for i in range(0x100, 0x100 + 400)]
    for m in model_ids:
        net.families[m] = {}
        for family, count in FAMILIES.items():
            codes = _family_codes(family, count)
            offered = codes if family in ("STEERING", "MARKET", "PAINT") else rnd.sample(codes, max(2, count - 1))
            weights = [rnd.uniform(0.2, 1.0) for _ in offered]
            shares = [Decimal(str(round(w / sum(weights), 6))) for w in weights]
            shares[-1] = Decimal(1) - sum(shares[:-1])   # a family's take rates sum to exactly 1 (the input gate checks)
            net.families[m][family] = {c: float(w) for c, w in zip(offered, shares)}
        net.free[m] = {c: round(rnd.uniform(*TAKE_RATES), 3) for c in sorted(rnd.sample(pool, rnd.randint(*FREE_OPTIONS)))}
    _bom(rnd, net, start, days, shape)
    return net


def _bom(rnd: random.Random, net: Network, start: date, days: int, shape: Shape) -> None:
    """Parts and BOM items. Per brand, pools of assemblies per level and one of purchased parts; every
    node's children are drawn from the pools below it, so sub-assemblies have many parents. A module has
    many variant positions, nearly all with a rule; an assembly deeper down has six children, few with one."""
    suppliers = [bpn.make("L", f"0000SUP{k:03d}") for k in range(200)]
    since = start - timedelta(days=365)
    parts, bom = {}, []
    fanout = 6
    # a module's variant positions: the alternatives a code chooses between (paint x colour, seat x upholstery)
    variants = max(4, min(30, shape.positions // 160))
    levels = shape.depth - 1                              # assembly levels below the modules
    # assembly nodes per model so that edges ~ positions: MODULES x (1 + variants) + fanout x deeper assemblies
    deeper = max(levels, round((shape.positions - MODULES * (1 + variants)) * 1.3) // fanout)   # 1.3: pool nodes a model misses
    weights = [1.0 + 0.8 * k for k in range(levels - 1)] + [1.0]
    per_level = [max(4, round(deeper * w / sum(weights))) for w in weights]

    def part(pid, ptype, unit="H87", lead=None, desc=""):
        if pid not in parts:
            lead = lead if lead is not None else (rnd.randint(1, 3) if ptype != n.PURCHASED else rnd.randint(2, 30))
            parts[pid] = (pid, desc or pid, ptype, unit, 0 if ptype == n.PHANTOM else lead,
                          rnd.choice(suppliers) if ptype == n.PURCHASED else None)
        return pid

    def rule_for(level: int, model: str) -> str | None:
        # most rules choose modules and their variant positions; below them only a few (market, steering)
        share = min(1.0, shape.rule_share * (2.4 if level == 1 else 2.6 if level == 2 else 0.7 if level == 3 else 0.12))
        if rnd.random() >= share:
            return None
        if level > 3:
            return rnd.choice(DEEP_RULES)
        codes = rnd.sample(sorted(net.free[model]) + [c for f in ("UPHOLSTERY", "WHEELS") for c in net.families[model][f]],
                           rnd.randint(1, 4))
        ops = [rnd.choice([" & ", " | ", " & !"]) for _ in codes[1:]]
        text = codes[0] + "".join(o + c for o, c in zip(ops, codes[1:]))
        return f"({text})" if rnd.random() < 0.2 else text

    def edge(parent, child, rule=None, qty=Decimal(1), plant=None, vfrom=None, vto=None, scrap=Decimal(0)):
        bom.append((f"R{len(bom) + 1:07d}", parent, child, qty, scrap, vfrom or since, vto, plant, rule))

    children: dict[str, list] = {}
    for brand, models in BRANDS.items():
        code = brand[:2].upper()
        purchased = []
        for k in range(max(200, shape.positions // 4)):
            bulk = rnd.random() < 0.05
            purchased.append(part(f"{code}-PRT-{k:05d}", n.PURCHASED, rnd.choice(UNITS_BULK) if bulk else "H87",
                                  desc=f"{brand} purchased part {k}"))
        pools = [[part(f"{code}-L{lvl + 2}-{k:05d}", n.PHANTOM if rnd.random() < 0.05 else n.ASSEMBLY,
                       desc=f"{brand} level {lvl + 2} assembly {k}")
                  for k in range(per_level[lvl])] for lvl in range(levels)]
        shared_modules = [part(f"{code}-MOD-{k:02d}", n.ASSEMBLY, desc=f"{brand} shared module {k}")
                          for k in range(MODULES // 4)]

        def fill(node: str, lvl: int, model: str) -> None:
            """Children of a node at assembly level lvl (0 = module): half assemblies below, half parts."""
            if node in children:
                return
            kids = []
            for _ in range(variants if lvl == 0 else fanout):
                if lvl + 1 < levels and rnd.random() < 0.5:
                    kids.append((rnd.choice(pools[lvl + 1]), lvl + 1))
                else:
                    kids.append((rnd.choice(purchased), None))
            children[node] = kids
            for child, child_lvl in kids:
                unit = parts[child][3]
                qty = Decimal(str(round(rnd.uniform(0.05, 4.0), 3))) if unit != "H87" else Decimal(rnd.choice([1, 1, 1, 2, 4]))
                scrap = Decimal(str(round(rnd.uniform(0.5, 5.0), 2))) if rnd.random() < 0.2 else Decimal(0)
                plant = None
                if rnd.random() < 0.01:
                    plant = rnd.choice([p for p, ms in net.built_at.items() if model in ms])
                if child_lvl is None and rnd.random() < 0.03:   # phased out in the window, a successor phased in
                    switch = start + timedelta(days=rnd.randint(1, max(1, days - 1)))
                    successor = part(f"{child}-N", n.PURCHASED, unit, desc=f"successor of {child}")
                    edge(node, child, rule_for(lvl + 2, model), qty, plant, vto=switch, scrap=scrap)
                    edge(node, successor, rule_for(lvl + 2, model), qty, plant, vfrom=switch, scrap=scrap)
                    continue
                edge(node, child, rule_for(lvl + 2, model), qty, plant, scrap=scrap)
                if child_lvl is not None:
                    fill(child, child_lvl, model)

        for model in models:
            part(model, n.ASSEMBLY)   # the model is a node of the graph, not a part (dropped below)
            own = [part(f"{model}-MOD-{k:02d}", n.ASSEMBLY, desc=f"{model} module {k}") for k in range(MODULES - len(shared_modules))]
            for module in own + shared_modules:
                edge(model, module, rule_for(1, model))
                fill(module, 0, model)
    model_ids = {m for m, _, _ in net.models}
    net.parts = [p for pid, p in parts.items() if pid not in model_ids]
    net.bom = bom


def plan_rows(net: Network, months: list[date], daily_orders: float) -> tuple[list, list]:
    """volume_plan and option_take_rates consistent with the order generator (the same families and rates)."""
    import calendar
    total = sum(net.volume.values())
    plan, rates = [], []
    for plant, shares in net.built_at.items():
        share_total = sum(shares.values())
        for model, share in shares.items():
            units = daily_orders * net.volume[plant] / total * share / share_total
            plan += [(plant, model, m, Decimal(str(round(units * calendar.monthrange(m.year, m.month)[1], 6))))
                     for m in months]
    for model, families in net.families.items():
        for m in months:
            rates += [(model, m, code, family, Decimal(str(w))) for family, codes in families.items() for code, w in codes.items()]
            rates += [(model, m, code, None, Decimal(str(r))) for code, r in net.free[model].items()]
    return plan, rates


_MODEL_OPTIONS = StructType([
    StructField(n.MODEL_ID, StringType(), False),
    StructField("family_codes", ArrayType(ArrayType(StringType(), False), False), False),
    StructField("family_cums", ArrayType(ArrayType(DoubleType(), False), False), False),
    StructField("free_codes", ArrayType(StringType(), False), False),
    StructField("free_rates", ArrayType(DoubleType(), False), False),
])


def _uniform(*cols: Column) -> Column:
    """A deterministic draw in [0, 1) from the hash of `cols` (usable inside higher-order functions)."""
    return F.pmod(F.xxhash64(*cols), F.lit(1 << 30)).cast("double") / float(1 << 30)


def _pick(u: Column, keys, cums) -> Column:
    """The key whose cumulative weight first passes the draw u; keys and cums are Python lists or array columns
    (arrays, not a CASE chain: 42 plants x 4 models of WHEN branches is too large a method for Spark's code
    generator). The last cumulative weight may be left out: u < 1 never passes it."""
    keys = keys if isinstance(keys, Column) else F.array(*map(F.lit, keys))
    cums = cums if isinstance(cums, Column) else F.array(*map(F.lit, cums))
    return F.element_at(keys, 1 + F.size(F.filter(cums, lambda c: c <= u)))


def _cumulative(weights: list[float]) -> list[float]:
    total, acc, out = sum(weights), 0.0, []
    for w in weights[:-1]:
        acc += w / total
        out.append(acc)
    return out


def orders_frame(spark: SparkSession, net: Network, orders: int, seed: int, start: date, days: int,
                 partitions: int) -> DataFrame:
    """Production orders: plant by volume, model by the plant's shares, one code per family, free options
    by take rate. Hash draws keyed by (seed, order number, what is drawn)."""
    options = [(model, [list(families[f]) for f in FAMILIES], [_cumulative(list(families[f].values())) for f in FAMILIES],
                list(net.free[model]), list(net.free[model].values())) for model, families in sorted(net.families.items())]
    table = spark.createDataFrame(options, _MODEL_OPTIONS)
    s = F.lit(seed)
    at = []
    for plant, shares in sorted(net.built_at.items()):
        at.append((plant, list(shares), _cumulative(list(shares.values()))))
    plants = spark.createDataFrame(at, "plant_id string, plant_models array<string>, plant_cums array<double>")
    base = (spark.range(0, orders, 1, partitions)
            .withColumn(n.PLANT_ID, _pick(_uniform(s, F.col("id"), F.lit("plant")), list(net.volume), _cumulative(list(net.volume.values()))))
            .join(F.broadcast(plants), on=n.PLANT_ID, how="inner")
            .withColumn(n.MODEL_ID, _pick(_uniform(s, F.col("id"), F.lit("model")), F.col("plant_models"), F.col("plant_cums")))
            .join(F.broadcast(table), on=n.MODEL_ID, how="inner"))

    def family(i: int) -> Column:   # one code of the i-th family, by its weights
        return _pick(_uniform(s, F.col("id"), F.lit(f"family{i}")), F.col("family_codes")[i], F.col("family_cums")[i])

    free = F.transform(F.filter(F.arrays_zip("free_codes", "free_rates"),
                                lambda c: _uniform(s, F.col("id"), c["free_codes"]) < c["free_rates"]),
                       lambda c: c["free_codes"])
    day = F.pmod(F.xxhash64(s, F.col("id"), F.lit("day")), F.lit(days)).cast("int")
    fleet = _uniform(s, F.col("id"), F.lit("fleet")) < 0.02
    quantity = F.when(fleet, F.pmod(F.xxhash64(s, F.col("id"), F.lit("qty")), F.lit(19)).cast("int") + 2).otherwise(1)
    return base.select(
        F.format_string("ORD%09d", F.col("id")).alias(n.ORDER_ID), n.PLANT_ID, n.MODEL_ID,
        F.date_add(F.lit(start), day).alias(n.PRODUCTION_DATE),
        F.array_sort(F.concat(F.array(*[family(i) for i in range(len(FAMILIES))]), free)).alias(n.OPTION_CODES),
        quantity.alias(n.QUANTITY))
