"""One benchmark system on one source, in its own process (so peak memory is its own):

    python -m bench.systems SYSTEM SOURCE WORKDIR RESULT.json

Every system computes order demand per (plant, model, part, demand_date) with the
contract's semantics, and reports its wall time, its output's row count and total
(the agreement check), and for Spark its shuffle and spill from the status REST API.
The peers get the validated input and bomflow's prepared edge table (rules in
DNF, edge factors, lead-time offsets): they skip validation, quarantine, gates
and Delta writes, which bomflow's time includes.
"""
import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("BOMFLOW_ENV", "local")

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from adapters import lake as lk  # noqa: E402
from adapters.session import spark_session as new_session  # noqa: E402
from pipeline import config as st  # noqa: E402
from pipeline import logs  # noqa: E402
from schemas import names as n  # noqa: E402
from transforms.bom import explosion_edges  # noqa: E402
from transforms.configurations import configuration_totals, normalise_options  # noqa: E402
from transforms.engine import screen  # noqa: E402
from transforms.explode import BY_OPTIONS, DEMAND_TYPES, OPEN_TYPES  # noqa: E402



def spark_session(extra: dict | None = None) -> SparkSession:
    conf = st.load("local")
    conf["spark"]["conf"].update({"spark.ui.enabled": "true", "spark.ui.port": "4050", **(extra or {})})
    logs.configure(conf)
    return new_session(conf)


def spark_metrics(spark: SparkSession) -> dict:
    """Shuffle, spill and JVM heap peak of this application, from Spark's status REST API."""
    sc = spark.sparkContext
    base = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"

    def get(path):
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return json.load(r)
    stages = get("/stages?status=complete")
    heap = max((e.get("peakMemoryMetrics", {}).get("JVMHeapMemory", 0) for e in get("/allexecutors")), default=0)
    return {"stages": len(stages),
            "shuffle_write_bytes": sum(s.get("shuffleWriteBytes", 0) for s in stages),
            "memory_spilled_bytes": sum(s.get("memoryBytesSpilled", 0) for s in stages),
            "disk_spilled_bytes": sum(s.get("diskBytesSpilled", 0) for s in stages),
            "jvm_heap_peak_bytes": heap}


def summarise(df: DataFrame) -> dict:
    row = df.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col(n.QUANTITY).cast("double")).alias("total")).first()
    return {"output_rows": row["rows"], "output_total": float(row["total"] or 0)}


def prepared(spark: SparkSession, source: str) -> tuple[DataFrame, DataFrame]:
    """(orders, edges) as the peers get them: validated rows, bomflow's explosion edges."""
    screened = screen(lk.read_source(spark, source))
    used = screened.used
    edges = explosion_edges(used[n.BOM_ITEMS], used[n.PARTS], screened.rules).localCheckpoint(eager=True)
    return used[n.PRODUCTION_ORDERS].transform(normalise_options).localCheckpoint(eager=True), edges


# --- the systems -------------------------------------------------------------------------------------------

def scan_floor(source: str, work: Path) -> dict:
    """Read every input table and fold every column of every row (a Parquet count alone reads only footers)."""
    spark = spark_session()
    started = time.monotonic()
    tables = lk.read_source(spark, source)
    rows = 0
    for df in tables.values():
        r = df.agg(F.count(F.lit(1)).alias("rows"), F.bit_xor(F.xxhash64(*df.columns)).alias("h")).first()
        rows += r["rows"]
    seconds = time.monotonic() - started
    return {"seconds": seconds, "input_rows": rows, **spark_metrics(spark)}


def bomflow(source: str, work: Path) -> dict:
    """The whole nightly job (read, validate, quarantine, GX gates, explode orders and plan, stage, commit)."""
    from pipeline.night import Request, night
    spark = spark_session()
    settings = st.load("local")
    started = time.monotonic()
    report = night(spark, settings, Request(source, str(work / "lake")))
    seconds = time.monotonic() - started
    metrics = spark_metrics(spark)
    demand = spark.read.format("delta").load(str(work / "lake" / n.PART_DEMAND))
    orders = lk.read_source(spark, source)[n.PRODUCTION_ORDERS]
    configurations = orders.transform(configuration_totals).count()
    return {"seconds": seconds, **metrics, **summarise(demand.where(F.col(n.SOURCE) == n.SOURCE_ORDERS)),
            "orders": report.orders_read, "configurations": configurations,
            "signatures": report.metrics["signatures"]["exploded"], "dated_signatures": report.metrics["signatures"]["dated"],
            "step_seconds": report.metrics["step_seconds"], "levels": report.metrics["levels"]}


def bomflow_engine(source: str, work: Path) -> dict:
    """bomflow's engine alone, timed like naive and WITH RECURSIVE: read + screen + order explosion, no plan,
    no gates, no Delta; the order demand materialised (localCheckpoint)."""
    from transforms.engine import explode_screened
    spark = spark_session()
    started = time.monotonic()
    tables = lk.read_source(spark, source)
    tables[n.VOLUME_PLAN] = tables[n.VOLUME_PLAN].limit(0)
    result = explode_screened(screen(tables), "bench")
    demand = result.part_demand.localCheckpoint(eager=True)
    seconds = time.monotonic() - started
    return {"seconds": seconds, **spark_metrics(spark), **summarise(demand), "signatures": result.signatures}


def naive(source: str, work: Path) -> dict:
    """Per order, per path: the same edge test, no configuration dedup, no aggregation until the end."""
    spark = spark_session()
    started = time.monotonic()
    orders, edges = prepared(spark, source)
    frontier = orders.select(n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.OPTION_CODES, n.QUANTITY,
                             F.col(n.MODEL_ID).alias(n.NODE_ID), F.lit(n.MODEL).alias(n.NODE_TYPE),
                             F.lit(0).alias(n.OFFSET_DAYS), F.lit(1.0).alias(n.PER_UNIT))
    demand, levels = [], []
    for level in range(1, 65):
        reached = (frontier.drop(n.NODE_TYPE).withColumnRenamed(n.NODE_ID, n.PARENT_ID)
                   .join(F.broadcast(edges), on=n.PARENT_ID)
                   .where(BY_OPTIONS.active())
                   .select(n.PLANT_ID, n.MODEL_ID, n.PRODUCTION_DATE, n.OPTION_CODES, n.QUANTITY,
                           F.col(n.CHILD_ID).alias(n.NODE_ID), n.NODE_TYPE,
                           (F.col(n.OFFSET_DAYS) + F.col(n.PARENT_OFFSET)).alias(n.OFFSET_DAYS),
                           (F.col(n.PER_UNIT) * F.col(n.EDGE_FACTOR).cast("double")).alias(n.PER_UNIT))
                   .localCheckpoint(eager=False))
        rows = reached.count()
        levels.append(rows)
        demand.append(reached.where(F.col(n.NODE_TYPE).isin(*DEMAND_TYPES)))
        frontier = reached.where(F.col(n.NODE_TYPE).isin(*OPEN_TYPES))
        if frontier.isEmpty():
            break
    union = demand[0]
    for d in demand[1:]:
        union = union.unionByName(d)
    result = (union.groupBy(n.PLANT_ID, n.MODEL_ID, F.col(n.NODE_ID).alias(n.PART_ID),
                            F.date_sub(n.PRODUCTION_DATE, F.col(n.OFFSET_DAYS)).alias(n.DEMAND_DATE))
              .agg(F.sum(F.col(n.PER_UNIT) * F.col(n.QUANTITY)).alias(n.QUANTITY))
              .localCheckpoint(eager=True))
    seconds = time.monotonic() - started
    return {"seconds": seconds, "path_rows": sum(levels), **spark_metrics(spark), **summarise(result)}


RECURSIVE_SQL = """
WITH RECURSIVE paths AS (
  SELECT plant_id, model_id, production_date, option_codes, quantity,
         model_id AS node_id, 'model' AS node_type, 0 AS offset_days, CAST(1.0 AS DOUBLE) AS per_unit
  FROM orders
  UNION ALL
  SELECT p.plant_id, p.model_id, p.production_date, p.option_codes, p.quantity,
         e.child_id, e.node_type, p.offset_days + e.parent_offset_days, p.per_unit * CAST(e.edge_factor AS DOUBLE)
  FROM paths p JOIN edges e ON e.parent_id = p.node_id
  WHERE p.node_type IN ('model', 'assembly', 'phantom')
    AND (e.valid_from IS NULL OR e.valid_from <= p.production_date)
    AND (e.valid_to IS NULL OR p.production_date < e.valid_to)
    AND (e.edge_plant_id IS NULL OR e.edge_plant_id = p.plant_id)
    AND exists(e.rule_terms, t -> forall(t.pos, c -> array_contains(p.option_codes, c))
                              AND NOT exists(t.neg, c -> array_contains(p.option_codes, c)))
)
SELECT plant_id, model_id, node_id AS part_id, date_sub(production_date, offset_days) AS demand_date,
       SUM(per_unit * quantity) AS quantity
FROM paths WHERE node_type IN ('assembly', 'purchased')
GROUP BY plant_id, model_id, node_id, date_sub(production_date, offset_days)
"""


def recursive_cte(source: str, work: Path) -> dict:
    """Spark SQL WITH RECURSIVE (Spark 4.1): per-order path enumeration, written as a user would."""
    spark = spark_session({"spark.sql.cteRecursionRowLimit": "2000000000", "spark.sql.cteRecursionLevelLimit": "64"})
    started = time.monotonic()
    orders, edges = prepared(spark, source)
    orders.createOrReplaceTempView("orders")
    edges.createOrReplaceTempView("edges")
    result = spark.sql(RECURSIVE_SQL).localCheckpoint(eager=True)
    seconds = time.monotonic() - started
    return {"seconds": seconds, **spark_metrics(spark), **summarise(result)}


DUCKDB_SQL = """
WITH RECURSIVE configs AS (
  SELECT plant_id, model_id, production_date, list_sort(list_distinct(coalesce(option_codes, []))) AS options,
         SUM(quantity) AS quantity
  FROM read_parquet('{orders}/**/*.parquet', hive_partitioning = true) o
  WHERE order_id IN (SELECT order_id FROM used)
  GROUP BY ALL
), paths AS (
  SELECT plant_id, model_id, production_date, options, quantity,
         model_id AS node_id, 'model' AS node_type, 0 AS offset_days, 1.0::DOUBLE AS per_unit
  FROM configs
  UNION ALL
  SELECT p.plant_id, p.model_id, p.production_date, p.options, p.quantity,
         e.child_id, e.node_type, p.offset_days + e.parent_offset_days, p.per_unit * e.edge_factor::DOUBLE
  FROM paths p JOIN edges e ON e.parent_id = p.node_id
  WHERE p.node_type IN ('model', 'assembly', 'phantom')
    AND (e.valid_from IS NULL OR e.valid_from <= p.production_date)
    AND (e.valid_to IS NULL OR p.production_date < e.valid_to)
    AND (e.edge_plant_id IS NULL OR e.edge_plant_id = p.plant_id)
    AND coalesce(list_bool_or(list_transform(e.rule_terms, lambda t:
          list_has_all(p.options, t.pos) AND NOT list_has_any(p.options, t.neg))), false)
)
SELECT plant_id, model_id, node_id AS part_id, production_date - offset_days AS demand_date,
       SUM(per_unit * quantity) AS quantity
FROM paths WHERE node_type IN ('assembly', 'purchased')
GROUP BY ALL
"""


def duckdb(source: str, work: Path) -> dict:
    """DuckDB, single machine, 2 threads: configurations deduplicated, then a recursive CTE over paths."""
    import duckdb as ddb
    spark = spark_session()   # only to prepare the same validated edges and used order ids: timed apart
    prepare = time.monotonic()
    orders, edges = prepared(spark, source)
    edges.write.mode("overwrite").parquet(str(work / "edges"))
    orders.select(n.ORDER_ID).write.mode("overwrite").parquet(str(work / "used"))
    prepare_seconds = time.monotonic() - prepare
    spark.stop()
    con = ddb.connect()
    con.execute("SET threads = 2")
    con.execute(f"SET temp_directory = '{work / 'duckdb_tmp'}'")
    # Its path enumeration spills: at the realistic profile (SF 0.01, 1,500 positions) 59 GB in 10 minutes
    # before it was stopped by hand. Half the free disk at most: beyond, DuckDB fails (the bench records
    # "failed") instead of filling the disk the rest of the bench and the machine need.
    con.execute(f"SET max_temp_directory_size = '{shutil.disk_usage(work).free // 2 // 2**30}GiB'")
    started = time.monotonic()
    con.execute(f"CREATE TEMP TABLE edges AS SELECT * FROM read_parquet('{work / 'edges'}/*.parquet')")
    con.execute(f"CREATE TEMP TABLE used AS SELECT * FROM read_parquet('{work / 'used'}/*.parquet')")
    con.execute("CREATE TEMP TABLE result AS " + DUCKDB_SQL.format(orders=Path(source) / n.PRODUCTION_ORDERS))
    seconds = time.monotonic() - started
    rows, total = con.execute("SELECT count(*), sum(quantity) FROM result").fetchone()
    return {"seconds": seconds, "output_rows": rows, "output_total": float(total or 0),
            "prepare_seconds": prepare_seconds}


def reference(source: str, work: Path) -> dict:
    """tests/reference.py: every path of every order walked in Python with exact fractions."""
    from tests import reference as ref
    from tests.builders import rows_of
    spark = spark_session()
    tables = lk.read_source(spark, source)
    tables[n.VOLUME_PLAN] = tables[n.VOLUME_PLAN].limit(0)
    rows = {t: rows_of(df) for t, df in tables.items()}
    spark.stop()
    started = time.monotonic()
    result = ref.explode(rows)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "output_rows": len(result), "output_total": float(sum(result.values()))}


def diamond_case(k: int, orders: int = 100):
    """A model over k diamonds: N0 -> {A_i, B_i} -> N_i+1, a bolt on every node: 2^k paths to the last bolt."""
    from tests.builders import Case, edge, order, part
    nodes = [f"N{i:02d}" for i in range(k + 1)]
    parts = [part(x, "assembly") for i in range(k) for x in (nodes[i], f"A{i:02d}", f"B{i:02d}")]
    parts += [part(nodes[k], "assembly"), part("BOLT")]
    bom = [edge("M1", nodes[0])]
    for i in range(k):
        bom += [edge(nodes[i], f"A{i:02d}"), edge(nodes[i], f"B{i:02d}"),
                edge(f"A{i:02d}", nodes[i + 1]), edge(f"B{i:02d}", nodes[i + 1], rule="XX"),
                edge(nodes[i], "BOLT", "3")]
    bom.append(edge(nodes[k], "BOLT", "1"))
    return Case(parts=parts, bom_items=bom,
                production_orders=[order(f"O{j}", "M1", ["XX"] if j % 2 else [], quantity=1 + j % 3) for j in range(orders)])


def dag(source: str, work: Path) -> dict:
    """Explosion cost vs BOM depth and sharing: order_demand on diamond chains (SOURCE = k, 2^k paths)."""
    from transforms.engine import order_demand
    k = int(source)
    spark = spark_session()
    case = diamond_case(k)
    frames = case.frames(spark)
    started = time.monotonic()
    result = order_demand(frames, run_id="bench", max_depth=2 * k + 4)
    if not result.problems.isEmpty():
        raise SystemExit(f"the diamond case should be clean: {result.problems.limit(3).collect()}")
    summary = summarise(result.part_demand.localCheckpoint(eager=True))
    seconds = time.monotonic() - started
    out = {"seconds": seconds, "levels": len(result.levels), "paths_to_bolt": 2 ** k, **summary}
    if k <= 12:   # the reference walks every path: only for small k
        from tests import reference as ref
        started = time.monotonic()
        expected = ref.explode(case.rows(), max_depth=2 * k + 4)
        out["reference_seconds"] = time.monotonic() - started
        out["reference_total"] = float(sum(expected.values()))
    return out


SYSTEMS = {"dag": dag, "scan_floor": scan_floor, "bomflow": bomflow, "bomflow_engine": bomflow_engine, "naive": naive, "recursive_cte": recursive_cte,
           "duckdb": duckdb, "reference": reference}


def main() -> None:
    system, source, work, out = sys.argv[1:5]
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    result = SYSTEMS[system](source, work)
    Path(out).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
