"""Answering planners: why does a configuration need a part, and where is a part used?

    bomflow explain (--source DIR | --lake DIR [--run RUN]) --plant P --model M --date D --options A,B [--part X]
    bomflow where-used (--source DIR | --lake DIR [--run RUN]) --part X

Both validate their input as the nightly run does (screen) and use the engine's
own edge preparation and edge tests (transforms.bom); the quantities that
explain prints as totals come from the engine's explosion of that one
configuration, the tree shows the path-by-path factors behind them.

The input is a source folder, or a run's own copy of the BOM in the lake (the
used plants, models, parts and BOM items it committed): `--lake` alone takes
the run the lake serves, `--run` an earlier one, so last night can be explained
after the source was refreshed. Its blocked models come from its runs row.
"""
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DateType, LongType, StringType, StructField, StructType

from adapters import lake as lk
from pipeline.errors import BomflowError
from pipeline.query import number
from pipeline.record import MASTER_DATA
from schemas import names as n
from schemas import quantities as q
from schemas.tables import INPUTS
from transforms.bom import edge_for_plant, edge_in_effect
from transforms.demand import demand_by_date
from transforms.engine import screen
from transforms.explode import explode
from transforms.rules import rule_holds

MAX_LINES = 400


@dataclass
class Edge:
    bom_item_id: str
    parent_id: str
    child_id: str
    node_type: str
    edge_factor: Decimal
    parent_offset: int
    valid_from: date | None
    valid_to: date | None
    plant: str | None
    rule: str
    off: str | None       # why the edge is switched off for this configuration, None when active


def _config(spark: SparkSession, plant: str, model: str, day: date, options: list[str]):
    schema = StructType([StructField(n.CONFIG_ID, LongType()), StructField(n.PLANT_ID, StringType()),
                         StructField(n.MODEL_ID, StringType()), StructField(n.PRODUCTION_DATE, DateType()),
                         StructField(n.OPTION_CODES, ArrayType(StringType())),
                         StructField(n.CONFIG_QUANTITY, q.CONFIG_QTY)])
    return spark.createDataFrame([(0, plant, model, day, sorted(set(options)), Decimal(1))], schema)


@dataclass
class Bom:
    """What explain and where-used read: a screened source or a run's BOM copy, and how to name it."""
    screened: object     # transforms.screen.Screened
    name: str            # "source DIR" or "run RUN"
    blocked: dict        # model_id -> cause

    @property
    def edges(self):
        return self.screened.edges


def read_bom(spark: SparkSession, settings: dict, source: str | None = None, lake: str | None = None,
             run_id: str | None = None) -> Bom:
    """The BOM of a source folder, or of a run as it committed it (the serving run when run_id is None)."""
    terms = int(settings["engine"]["max_rule_terms"])
    if source:
        screened = screen(lk.read_source(spark, source), terms)
        return Bom(screened, f"source {source}", screened.blocked)
    run = lk.succeeded_run(spark, lake, run_id)
    tables = {t: lk.committed_table(spark, lake, run, t) for t in MASTER_DATA}
    tables.update({t: spark.createDataFrame([], INPUTS[t]) for t in INPUTS if t not in MASTER_DATA})
    blocked = json.loads(run.blocked_models) if run.blocked_models else {}
    return Bom(screen(tables, terms), f"run {run.run_id}", blocked)


def edges_for(edges, config) -> dict[str, list[Edge]]:
    """Every BOM edge with the engine's tests applied to one configuration: parent_id -> edges."""
    ctx = config.select(n.PLANT_ID, n.PRODUCTION_DATE, n.OPTION_CODES)
    off = (F.when(~edge_in_effect(F.col(n.PRODUCTION_DATE)), F.lit("not in effect on that date"))
           .when(~edge_for_plant(F.col(n.PLANT_ID)), F.lit("for another plant"))
           .when(~rule_holds(F.col(n.RULE_TERMS), F.col(n.OPTION_CODES)), F.lit("rule false")))
    rows = edges.crossJoin(ctx).select(n.BOM_ITEM_ID, n.PARENT_ID, n.CHILD_ID, n.NODE_TYPE, n.EDGE_FACTOR,
                                       n.PARENT_OFFSET, n.VALID_FROM, n.VALID_TO, "edge_plant_id", n.RULE,
                                       off.alias("off")).collect()
    children: dict[str, list[Edge]] = {}
    for r in sorted(rows, key=lambda r: (r.parent_id, r.child_id, r.bom_item_id)):
        children.setdefault(r.parent_id, []).append(Edge(*r))
    return children


def _effectivity(e: Edge) -> str:
    if e.valid_from is None and e.valid_to is None:
        return ""
    return f" valid {e.valid_from or '...'}..{e.valid_to or 'open'}"


def tree_lines(children: dict[str, list[Edge]], model: str, day: date, part: str | None) -> list[str]:
    """The configuration's BOM as a tree: per edge quantity x (1 + scrap), rule, effectivity, and the per-vehicle
    quantity along the path; switched-off edges are shown, not followed. With `part`, only paths reaching it."""
    reaches: dict[str, bool] = {}

    def leads_to(node: str) -> bool:   # does any edge path from node reach `part`? (switched-off edges show why not)
        if node not in reaches:
            reaches[node] = False
            reaches[node] = any(e.child_id == part or leads_to(e.child_id) for e in children.get(node, []))
        return reaches[node]

    lines: list[str] = []

    def walk(node: str, prefix: str, per_vehicle: Decimal, offset: int) -> None:
        shown = [e for e in children.get(node, []) if part is None or e.child_id == part or leads_to(e.child_id)]
        for i, e in enumerate(shown):
            if len(lines) >= MAX_LINES:
                lines.append(f"{prefix}... (more than {MAX_LINES} lines; narrow it with --part)")
                return
            last = i == len(shown) - 1
            branch, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
            rule = f" rule '{e.rule}'" if e.rule else ""
            plant = f" plant {e.plant}" if e.plant else ""
            if e.off:
                lines.append(f"{prefix}{branch}{e.child_id}  OFF ({e.off}):{rule}{plant}{_effectivity(e)}  [{e.bom_item_id}]")
                continue
            child_offset = offset + e.parent_offset
            need = per_vehicle * e.edge_factor
            due = f"  needed {day - timedelta(days=child_offset)}" if e.node_type != n.PHANTOM else "  (phantom: no demand)"
            lines.append(f"{prefix}{branch}{e.child_id}  {e.node_type}  x{number(e.edge_factor)} per parent"
                         f" = {number(need)} per vehicle{due}{rule}{plant}{_effectivity(e)}  [{e.bom_item_id}]")
            if e.node_type != n.PURCHASED:
                walk(e.child_id, prefix + below, need, child_offset)

    walk(model, "", Decimal(1), 0)
    return lines


def explain(spark: SparkSession, settings: dict, bom: Bom, plant: str, model: str, day: date,
            options: list[str], part: str | None = None) -> list[str]:
    screened, edges = bom.screened, bom.edges
    if model not in screened.models:
        raise BomflowError(f"model {model} is not a valid vehicle model of {bom.name}")
    config = _config(spark, plant, model, day, options)
    lines = [f"{model} at plant {plant}, production date {day}, options {','.join(sorted(set(options))) or '(none)'}:"
             f" per vehicle ({bom.name})"]
    if model in bom.blocked:
        lines.append(f"WARNING: BLOCKED {bom.blocked[model]}: the nightly run gives this model no new demand")
    lines += tree_lines(edges_for(edges, config), model, day, part)
    totals = demand_by_date(explode(config, edges, int(settings["engine"]["max_depth"])).demand, config)
    if part:
        totals = totals.where(F.col(n.PART_ID) == part)
    rows = totals.orderBy(n.PART_ID, n.DEMAND_DATE).collect()
    lines.append(f"engine totals per vehicle ({len(rows)} part/date rows; paths summed, as in part_demand):")
    lines += [f"  {r.part_id:<28} {r.demand_date}  {number(r.quantity)}" for r in rows]
    if part and not rows:
        lines.append(f"  {part} is not needed by this configuration")
    return lines


def where_used(spark: SparkSession, settings: dict, bom: Bom, part: str, max_paths: int = 50) -> list[str]:
    """Every model and path from a model down to `part` over the valid BOM (dates, plants and rules shown, not applied)."""
    edges = bom.edges
    parents: dict[str, list] = {}
    for r in edges.select(n.BOM_ITEM_ID, n.PARENT_ID, n.CHILD_ID, n.RULE, n.VALID_FROM, n.VALID_TO, "edge_plant_id").collect():
        parents.setdefault(r.child_id, []).append(r)
    paths: list[list] = []

    def up(node: str, below: list) -> None:
        if len(paths) > max_paths:
            return
        if node not in parents:
            paths.append(below)
            return
        for r in sorted(parents[node], key=lambda r: (r.parent_id, r.bom_item_id)):
            up(r.parent_id, [r] + below)

    if part not in parents:
        return [f"{part} is not used in any valid BOM item of {bom.name}"]
    up(part, [])
    models = sorted({p[0].parent_id for p in paths})
    lines = [f"{part} is used by {len(models)} model(s): {', '.join(models)}; "
             f"{min(len(paths), max_paths)}{'+' if len(paths) > max_paths else ''} path(s):"]
    for p in paths[:max_paths]:
        steps = [p[0].parent_id] + [f"{r.child_id} [{r.bom_item_id}{', rule ' + repr(r.rule) if r.rule else ''}"
                                    f"{', plant ' + r.edge_plant_id if r.edge_plant_id else ''}]" for r in p]
        lines.append("  " + " > ".join(steps))
    return lines
