"""Reading the source (Parquet or Delta per table) and writing the Delta lake."""
import re
from dataclasses import dataclass

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ByteType, DecimalType, IntegerType, IntegralType, LongType, ShortType, StructType
from pyspark.errors import AnalysisException

from adapters.storage import FileSystem, join
from pipeline.errors import BomflowError
from schemas import names as n
from schemas.tables import INPUTS

REQUIRED_INPUTS = (n.PLANTS, n.VEHICLE_MODELS, n.PARTS, n.BOM_ITEMS, n.PRODUCTION_ORDERS)


_INTEGER_DIGITS = {ByteType: 3, ShortType: 5, IntegerType: 10, LongType: 19}
_INTEGER_WIDTH = {ByteType: 1, ShortType: 2, IntegerType: 4, LongType: 8}


def widens_losslessly(actual, expected) -> bool:
    """Same type, or a narrower one that widens losslessly: a decimal with no more integer digits and no
    more scale, an integer type no wider. A wider column is refused, never rounded or overflowed."""
    if actual == expected:
        return True
    if isinstance(expected, DecimalType):
        if isinstance(actual, DecimalType):
            return (actual.scale <= expected.scale
                    and actual.precision - actual.scale <= expected.precision - expected.scale)
        return isinstance(actual, IntegralType) and _INTEGER_DIGITS[type(actual)] <= expected.precision - expected.scale
    if isinstance(expected, IntegralType):
        return isinstance(actual, IntegralType) and _INTEGER_WIDTH[type(actual)] <= _INTEGER_WIDTH[type(expected)]
    return False


def _conform(df: DataFrame, table: str, expected: StructType, problems: list[str]) -> DataFrame | None:
    actual = {f.name: f.dataType for f in df.schema.fields}
    before = len(problems)
    for field in expected.fields:
        if field.name not in actual:
            problems.append(f"{table}: missing column '{field.name}' ({field.dataType.simpleString()})")
        elif not widens_losslessly(actual[field.name], field.dataType):
            problems.append(f"{table}.{field.name}: type {actual[field.name].simpleString()}, "
                            f"expected {field.dataType.simpleString()} (or a narrower type; wider values are "
                            "never rounded)")
    if len(problems) > before:
        return None
    return df.select(*[F.col(f.name).cast(f.dataType) for f in expected.fields])


def _load(spark: SparkSession, files: FileSystem, path: str) -> DataFrame:
    fmt = "delta" if files.is_dir(join(path, "_delta_log")) else "parquet"
    return spark.read.format(fmt).load(path)


def read_source(spark: SparkSession, source: str) -> dict[str, DataFrame]:
    """Every input table of the contract, typed as the contract says; all problems in one error.
    source: a local folder or any Hadoop filesystem URI (adapters/storage.py)."""
    files = FileSystem(spark, source)
    if not files.is_dir(source):
        raise BomflowError(f"source folder {source} does not exist")
    tables, problems = {}, []
    for table, schema in INPUTS.items():
        path = join(source, table)
        if not files.is_dir(path):
            if table in REQUIRED_INPUTS:
                problems.append(f"{table}: missing table (expected folder {path})")
            else:   # the long-term plan is optional: no folder means no plan rows
                tables[table] = spark.createDataFrame([], schema)
            continue
        try:
            df = _load(spark, files, path)
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
                partition_by: tuple[str, ...] = (), replace_where: str | None = None,
                run_id: str | None = None) -> int | None:
    """Write a Delta table; replace_where replaces only the rows matching that predicate (a partial run).

    With run_id the commit is tagged with it (Delta's userMetadata, shown by DESCRIBE HISTORY) and the
    version this write made is returned, checked against the tag: never "the latest version afterwards"."""
    writer = df.write.format("delta").mode(mode)
    if replace_where:
        writer = writer.option("replaceWhere", replace_where)   # Delta checks that every new row matches it
    elif mode == "overwrite":
        writer = writer.option("overwriteSchema", "true")   # outputs are replaced whole; the schema is the code's
    else:
        writer = writer.option("mergeSchema", "true")       # appended logs (runs, quarantine) may gain columns
    if run_id:
        writer = writer.option("userMetadata", run_id)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(table_path(lake, table))
    return tagged_version(df.sparkSession, lake, table, run_id) if run_id else None


def tagged_version(spark: SparkSession, lake: str, table: str, run_id: str) -> int:
    """The newest version of `table` whose commit carries run_id (an error if another writer came after)."""
    last = newest_commit(spark, lake, table)
    if last is None:
        raise BomflowError(f"{table}: no Delta table under {table_path(lake, table)} after writing it")
    if last.userMetadata != run_id:
        raise BomflowError(f"{table}: the newest commit (version {last.version}) is not run {run_id}'s "
                           f"but {last.userMetadata or 'untagged'}: another writer on the lake?")
    return last.version


def table_path(lake: str, table: str) -> str:
    return join(lake, table)


@dataclass(frozen=True)
class Commit:
    """One commit of a Delta table, as its commitInfo action records it."""
    version: int
    operation: str | None
    operationParameters: dict
    userMetadata: str | None


COMMIT_FILE = re.compile(r"^(\d{20})\.json$")


def newest_commit(spark: SparkSession, lake: str, table: str) -> Commit | None:
    """The newest commit of `table` (None when it is no Delta table), read from its log: the newest
    `_delta_log/<version>.json` commit file, whose commitInfo action carries the operation and the
    userMetadata (Delta protocol, "Commit Provenance Information"). One listing and one small read
    through the table's Hadoop filesystem, where DeltaTable.history() rebuilds the table's state with
    Spark jobs (about a second a table on every repair and commit)."""
    import json
    log = join(table_path(lake, table), "_delta_log")
    files = FileSystem(spark, log)
    versions = [int(m.group(1)) for name in files.names(log) if (m := COMMIT_FILE.match(name))]
    if not versions:
        return None
    text = files.read_text(join(log, f"{max(versions):020d}.json")) or ""
    info = next((action["commitInfo"] for action in map(json.loads, filter(None, text.splitlines()))
                 if "commitInfo" in action), {})
    parameters = {k: v if v is None or isinstance(v, str) else json.dumps(v)   # strings, as history() has them
                  for k, v in (info.get("operationParameters") or {}).items()}
    return Commit(max(versions), info.get("operation"), parameters, info.get("userMetadata"))


def table_version(spark: SparkSession, lake: str, table: str) -> int:
    return newest_commit(spark, lake, table).version


def lake_table(spark: SparkSession, lake: str, table: str, missing: str) -> DataFrame:
    """One of the lake's Delta tables (its newest version); BomflowError(`missing`) when there is none."""
    try:
        return spark.read.format("delta").load(table_path(lake, table))
    except AnalysisException:
        raise BomflowError(f"no {table} table under {lake}: {missing}") from None


def runs_table(spark: SparkSession, lake: str) -> DataFrame:
    """The lake's runs table; a clear error when there is none yet."""
    return lake_table(spark, lake, n.RUNS, "run `bomflow run` first")


class NoSucceededRun(BomflowError):
    """The lake has no succeeded run (or not the one asked for)."""


def succeeded_run(spark: SparkSession, lake: str, run_id: str | None = None):
    """The runs row of the run whose state the lake serves (or of run_id, which must have succeeded),
    with the table versions to read it at.

    The state served is the newest row that recorded table versions: a succeeded run, a restore or a
    maintain. A restore or maintain row stands for the run whose data it keeps (`serves_run_id`): the
    row returned is that run's, with the versions of the newer row (same contents; after OPTIMIZE and
    VACUUM the older versions' files may be gone). So publish, export and diff follow a restore."""
    import json
    runs = runs_table(spark, lake)
    if run_id:
        row = runs.where((F.col("status") == n.SUCCEEDED) & (F.col(n.RUN_ID) == run_id)).first()
        serving = row
    else:
        serving = runs.where(F.col("status").isin(*n.SERVING)).orderBy(F.col("started_at").desc()).first()
        row = serving
        if serving is not None and serving.status != n.SUCCEEDED:
            served = json.loads(serving.metrics_json)["serves_run_id"]
            try:
                row = succeeded_run(spark, lake, served)
            except NoSucceededRun:   # a broken pointer is an error, never "nothing to serve"
                raise BomflowError(f"the {serving.status} row {serving.run_id} serves run {served}, "
                                   f"which is no succeeded run of {lake}") from None
    if row is None:
        raise NoSucceededRun(f"no succeeded run {run_id or ''} in {lake}".replace("  ", " "))
    versions = json.loads(serving.metrics_json or "{}").get("committed_versions")
    if not versions:
        raise BomflowError(f"run {row.run_id} records no committed table versions (made by an older bomflow): "
                           "run `bomflow run` again")
    if serving is not row:
        metrics = {**json.loads(row.metrics_json), "committed_versions": versions, "served_by": serving.run_id}
        row = Row(**{**row.asDict(), "metrics_json": json.dumps(metrics)})
    return row


def serving_run(spark: SparkSession, lake: str):
    """succeeded_run(lake), or None on a lake with no runs table or no serving run yet. A serving row
    that cannot be read (an older bomflow's) is an error, never "nothing to serve"."""
    if newest_commit(spark, lake, n.RUNS) is None:
        return None
    try:
        return succeeded_run(spark, lake)
    except NoSucceededRun:
        return None


def repair(spark: SparkSession, lake: str, tables: tuple[str, ...], run) -> list[str]:
    """Put every table back on the version the serving run (`run`, serving_run's answer) committed where a
    later commit never succeeded (a night killed between its first and its last commit); returns what it did."""
    import json
    from delta.tables import DeltaTable

    if run is None:
        return []
    versions = json.loads(run.metrics_json)["committed_versions"]
    lines = []
    for table in tables:
        latest = newest_commit(spark, lake, table) if table in versions else None
        if latest is None:
            continue
        repaired_before = (latest.operation == "RESTORE"
                           and str(latest.operationParameters.get("version")) == str(versions[table]))
        if latest.version != versions[table] and not repaired_before:
            DeltaTable.forPath(spark, table_path(lake, table)).restoreToVersion(versions[table])
            lines.append(f"{table}: version {latest.version} ({latest.userMetadata or 'untagged'}) never succeeded; "
                         f"restored to version {versions[table]} of run {run.run_id}")
    return lines


def committed_table(spark: SparkSession, lake: str, run, table: str) -> DataFrame:
    """`table` as the run committed it (Delta time travel to the version in its runs row)."""
    import json
    versions = json.loads(run.metrics_json)["committed_versions"]
    if table not in versions:
        raise BomflowError(f"run {run.run_id} did not commit {table} (made by an older bomflow): run `bomflow run` again")
    return spark.read.format("delta").option("versionAsOf", versions[table]).load(table_path(lake, table))
