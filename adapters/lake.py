"""Reading the source (Parquet or Delta per table) and writing the Delta lake."""
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, IntegralType, StructType
from pyspark.errors import AnalysisException

from pipeline.errors import BomflowError
from schemas import names as n
from schemas.tables import INPUTS

REQUIRED_INPUTS = (n.PLANTS, n.VEHICLE_MODELS, n.PARTS, n.BOM_ITEMS, n.PRODUCTION_ORDERS)


def _compatible(actual, expected) -> bool:
    """Same type, or a lossless widening we accept (any integer for an int, any decimal for a decimal)."""
    if actual == expected:
        return True
    if isinstance(expected, DecimalType):
        return isinstance(actual, (DecimalType, IntegralType))
    if isinstance(expected, IntegralType):
        return isinstance(actual, IntegralType)
    return False


def _conform(df: DataFrame, table: str, expected: StructType, problems: list[str]) -> DataFrame | None:
    actual = {f.name: f.dataType for f in df.schema.fields}
    before = len(problems)
    for field in expected.fields:
        if field.name not in actual:
            problems.append(f"{table}: missing column '{field.name}' ({field.dataType.simpleString()})")
        elif not _compatible(actual[field.name], field.dataType):
            problems.append(f"{table}.{field.name}: type {actual[field.name].simpleString()}, "
                            f"expected {field.dataType.simpleString()}")
    if len(problems) > before:
        return None
    return df.select(*[F.col(f.name).cast(f.dataType) for f in expected.fields])


def _load(spark: SparkSession, path: Path) -> DataFrame:
    fmt = "delta" if (path / "_delta_log").is_dir() else "parquet"
    return spark.read.format(fmt).load(str(path))


def read_source(spark: SparkSession, source: str) -> dict[str, DataFrame]:
    """Every input table of the contract, typed as the contract says; all problems in one error."""
    root = Path(source)
    if not root.is_dir():
        raise BomflowError(f"source folder {source} does not exist")
    tables, problems = {}, []
    for table, schema in INPUTS.items():
        path = root / table
        if not path.is_dir():
            if table in REQUIRED_INPUTS:
                problems.append(f"{table}: missing table (expected folder {path})")
            else:   # the long-term plan is optional: no folder means no plan rows
                tables[table] = spark.createDataFrame([], schema)
            continue
        try:
            df = _load(spark, path)
        except AnalysisException as err:
            problems.append(f"{table}: unreadable ({err.getMessage().splitlines()[0][:200]})")
            continue
        conformed = _conform(df, table, schema, problems)
        if conformed is not None:
            tables[table] = conformed
    if problems:
        raise BomflowError(f"source {source} does not match the data contract:\n  " + "\n  ".join(problems))
    return tables


def write_table(df: DataFrame, lake: str, table: str, mode: str = "overwrite",
                partition_by: tuple[str, ...] = (), replace_where: str | None = None) -> None:
    """Write a Delta table; replace_where replaces only the rows matching that predicate (a partial run)."""
    writer = df.write.format("delta").mode(mode)
    if replace_where:
        writer = writer.option("replaceWhere", replace_where)   # Delta checks that every new row matches it
    elif mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")   # outputs are replaced whole; the schema is the code's
    else:
        writer = writer.option("mergeSchema", "true")       # appended logs (runs, quarantine) may gain columns
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(str(Path(lake) / table))


def table_path(lake: str, table: str) -> str:
    return str(Path(lake) / table)


def table_version(spark: SparkSession, lake: str, table: str) -> int:
    from delta.tables import DeltaTable
    return DeltaTable.forPath(spark, table_path(lake, table)).history(1).first().version


def runs_table(spark: SparkSession, lake: str) -> DataFrame:
    """The lake's runs table; a clear error when there is none yet."""
    try:
        return spark.read.format("delta").load(table_path(lake, n.RUNS))
    except AnalysisException:
        raise BomflowError(f"no runs table under {lake}: run `bomflow run` first") from None


def succeeded_run(spark: SparkSession, lake: str, run_id: str | None = None):
    """The runs row of the last succeeded run (or of run_id), with its committed table versions."""
    import json
    runs = runs_table(spark, lake).where(F.col("status") == n.SUCCEEDED)
    if run_id:
        runs = runs.where(F.col(n.RUN_ID) == run_id)
    row = runs.orderBy(F.col("started_at").desc()).first()
    if row is None:
        raise BomflowError(f"no succeeded run {run_id or ''} in {lake}".replace("  ", " "))
    if not json.loads(row.metrics_json or "{}").get("committed_versions"):
        raise BomflowError(f"run {row.run_id} records no committed table versions (made by an older bomflow): "
                           "run `bomflow run` again")
    return row


def committed_table(spark: SparkSession, lake: str, run, table: str) -> DataFrame:
    """`table` as the run committed it (Delta time travel to the version in its runs row)."""
    import json
    versions = json.loads(run.metrics_json)["committed_versions"]
    if table not in versions:
        raise BomflowError(f"run {run.run_id} did not commit {table} (made by an older bomflow): run `bomflow run` again")
    return spark.read.format("delta").option("versionAsOf", versions[table]).load(table_path(lake, table))
