"""Tiny input tables for tests, as Python rows (for the reference) and DataFrames (for the engine)."""
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from pyspark.sql import DataFrame, SparkSession

from schemas import names as n
from schemas.tables import INPUTS

DAY = date(2026, 3, 2)   # a Monday
SINCE = date(2020, 1, 1)

# For the environment of a JVM a test starts that lives for seconds to minutes (a spark-submit, a night
# in a subprocess, the standalone master, workers and executors, the test HDFS): C1 alone and the parallel
# collector spend far less CPU than C2 and G1 on a short life (measured in docs/testing.md). The test Solr
# gets the same (conf/test.yaml solr.jvm_options); the workers' own drivers live for the whole session
# and keep C2, with the parallel collector (conf/test.yaml, which a subprocess's driver reads too).
SHORT_LIVED_JVM = {"JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC"}


def part(part_id, part_type="purchased", lead=0, unit="H87", supplier="BPNL000000000BXT"):
    return {"part_id": part_id, "description": part_id, "part_type": part_type, "unit": unit,
            "lead_time_days": lead, "supplier_id": supplier if part_type == "purchased" else None}


def edge(parent, child, quantity="1", scrap="0", rule=None, plant=None, valid_from=SINCE, valid_to=None,
         bom_item_id=None):
    return {"bom_item_id": bom_item_id, "parent_id": parent, "child_id": child, "quantity": Decimal(quantity),
            "scrap_pct": Decimal(scrap), "valid_from": valid_from, "valid_to": valid_to, "plant_id": plant,
            "rule": rule}


def order(order_id, model, options=(), quantity=1, plant="P1", day=DAY):
    return {"order_id": order_id, "plant_id": plant, "model_id": model, "production_date": day,
            "option_codes": list(options), "quantity": quantity}


@dataclass
class Case:
    parts: list[dict]
    bom_items: list[dict]
    production_orders: list[dict] = field(default_factory=list)
    plants: list[dict] = field(default_factory=list)
    vehicle_models: list[dict] = field(default_factory=list)
    volume_plan: list[dict] = field(default_factory=list)
    option_take_rates: list[dict] = field(default_factory=list)

    def __post_init__(self):
        for i, e in enumerate(self.bom_items, start=1):
            e["bom_item_id"] = e["bom_item_id"] or f"E{i:04d}"
        if not self.plants:
            ids = sorted({o["plant_id"] for o in self.production_orders + self.volume_plan}
                         | {e["plant_id"] for e in self.bom_items if e["plant_id"]})
            self.plants = [{"plant_id": p, "name": p, "country": "DE", "bpns": None} for p in ids]
        if not self.vehicle_models:
            part_ids = {p["part_id"] for p in self.parts}
            ids = sorted({e["parent_id"] for e in self.bom_items if e["parent_id"] not in part_ids}
                         | {o["model_id"] for o in self.production_orders + self.volume_plan})
            self.vehicle_models = [{"model_id": m, "brand": "B", "name": m} for m in ids]

    def rows(self) -> dict[str, list[dict]]:
        return {n.PLANTS: self.plants, n.VEHICLE_MODELS: self.vehicle_models, n.PARTS: self.parts,
                n.BOM_ITEMS: self.bom_items, n.PRODUCTION_ORDERS: self.production_orders,
                n.VOLUME_PLAN: self.volume_plan, n.OPTION_TAKE_RATES: self.option_take_rates}

    def frames(self, spark: SparkSession) -> dict[str, DataFrame]:
        return {table: frame(spark, table, rows) for table, rows in self.rows().items()}


def combined(cases: dict[str, Case]) -> Case:
    """Several cases as one input: case `tag`'s models, parts, edges and orders get the prefix `tag-`,
    so one engine run explodes them all side by side (plants and option codes are left as they are:
    a model's rules and signatures never look at another model's). `case_slice` maps keys back."""
    def tagged(tag, value):
        return None if value is None else f"{tag}-{value}"

    parts, bom, orders, models = [], [], [], []
    for tag, case in cases.items():
        parts += [{**p, "part_id": tagged(tag, p["part_id"])} for p in case.parts]
        bom += [{**e, "bom_item_id": tagged(tag, e["bom_item_id"]), "parent_id": tagged(tag, e["parent_id"]),
                 "child_id": tagged(tag, e["child_id"])} for e in case.bom_items]
        orders += [{**o, "order_id": tagged(tag, o["order_id"]), "model_id": tagged(tag, o["model_id"])}
                   for o in case.production_orders]
        models += [{**m, "model_id": tagged(tag, m["model_id"])} for m in case.vehicle_models]
    return Case(parts=parts, bom_items=bom, production_orders=orders, vehicle_models=models)


def case_slice(demand: dict[tuple, Decimal], tag: str) -> dict[tuple, Decimal]:
    """The part of a combined run's demand (plant, model, part, date) that belongs to case `tag`, untagged."""
    prefix = f"{tag}-"
    return {(plant, model[len(prefix):], part_id[len(prefix):], day): quantity
            for (plant, model, part_id, day), quantity in demand.items() if model.startswith(prefix)}


def frame(spark: SparkSession, table: str, rows: list[dict]) -> DataFrame:
    schema = INPUTS[table]
    return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)


def plan_row(plant, model, month, units):
    return {"plant_id": plant, "model_id": model, "month": month, "planned_units": Decimal(str(units))}


def take_rate(model, month, code, rate, family=None):
    return {"model_id": model, "month": month, "option_code": code, "family": family, "take_rate": Decimal(str(rate))}


def rows_of(df: DataFrame) -> list[dict]:
    return [r.asDict() for r in df.collect()]


def demand_of(part_demand: DataFrame) -> dict[tuple, Decimal]:
    return {(r.plant_id, r.model_id, r.part_id, r.demand_date): r.quantity
            for r in part_demand.select(n.PLANT_ID, n.MODEL_ID, n.PART_ID, n.DEMAND_DATE, n.QUANTITY).collect()}


def within_tolerance(actual: Decimal, exact: Fraction) -> bool:
    """Contract §Explosion 5: |actual - exact| <= 1e-6 * max(1, |exact|)."""
    return abs(Fraction(actual) - exact) <= Fraction(1, 10**6) * max(1, abs(exact))


def assert_matches(actual: dict[tuple, Decimal], expected: dict[tuple, Fraction]) -> None:
    missing, extra = expected.keys() - actual.keys(), actual.keys() - expected.keys()
    assert not missing and not extra, f"keys differ: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    wrong = [(k, actual[k], float(expected[k])) for k in expected if not within_tolerance(actual[k], expected[k])]
    assert not wrong, f"{len(wrong)} quantities outside tolerance, e.g. {wrong[:3]}"


SAMPLE_START = "2026-03-02"
RUN_DATE = SAMPLE_START   # the run date of the shared sample lakes (conftest.clean_lake, history)
SAMPLE_ORDERS = 1500   # orders in the shared sample sources (conftest.sources)


def read_table(spark: SparkSession, lake, table: str) -> DataFrame:
    from pathlib import Path
    return spark.read.format("delta").load(str(Path(lake) / table))


def generated_source(folder, orders: int, *extra: str):
    """`bomflow generate` into folder/source (fixed start date); returns the source path."""
    from jobs import cli
    out = folder / "source"
    assert cli.main(["generate", "--out", str(out), "--orders", str(orders), "--start-date", SAMPLE_START, *extra]) == 0
    return out


def ran_lake(folder, source, *extra: str):
    """`bomflow run` of source into folder/lake; returns the lake path."""
    from jobs import cli
    lake = folder / "lake"
    assert cli.main(["run", "--source", str(source), "--lake", str(lake), *extra]) == 0
    return lake


DROPPED_PART = "TOW-HITCH"         # changed_source removes its BOM edges
BAD_SUPPLIER_PART = "LABEL-US"     # changed_source gives its supplier a BPNL with wrong check characters
BAD_BPNL = "BPNL00BADCHECK0XX"


@dataclass
class History:
    source: object
    changed: object
    lake: object
    run_ids: list


def changed_source(spark: SparkSession, source, out):
    """A copy of source without the DROPPED_PART edges and with BAD_BPNL as BAD_SUPPLIER_PART's supplier."""
    import shutil
    from pyspark.sql import functions as F

    shutil.copytree(source, out)
    bom = spark.read.parquet(str(source / n.BOM_ITEMS)).where(F.col(n.CHILD_ID) != DROPPED_PART)
    parts = spark.read.parquet(str(source / n.PARTS)).withColumn(
        n.SUPPLIER_ID, F.when(F.col(n.PART_ID) == BAD_SUPPLIER_PART, F.lit(BAD_BPNL)).otherwise(F.col(n.SUPPLIER_ID)))
    for table, df in ((n.BOM_ITEMS, bom), (n.PARTS, parts)):
        shutil.rmtree(out / table)
        df.write.parquet(str(out / table))
    return out


@contextmanager
def without_auto_broadcast(spark: SparkSession, off: bool = True):
    """Spark's own size-based broadcast off for the body, so that a join the engine does not hint is
    really shuffle-joined (the path of a BOM over engine.broadcast_edge_rows)."""
    key = "spark.sql.autoBroadcastJoinThreshold"
    before = spark.conf.get(key)
    if off:
        spark.conf.set(key, "-1")
    try:
        yield
    finally:
        spark.conf.set(key, before)
