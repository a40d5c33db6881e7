"""The nightly job end to end through the CLI, on generated sample data (spark-submit of the installed
wheel on a standalone cluster: tests/test_package.py)."""
import shutil

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs import cli
from adapters import lake as lk
from schemas import names as n
from tests.builders import SAMPLE_ORDERS as ORDERS, read_table


read = read_table


@pytest.fixture(scope="module")
def source(sources):
    return sources / "clean"


@pytest.fixture(scope="module")
def lake(clean_lake):
    """The shared one-run lake of the clean sample source (read-only)."""
    return clean_lake


def test_run_writes_every_output_table_and_a_runs_row(spark, lake):
    runs = read(spark, lake, n.RUNS).collect()
    assert len(runs) == 1 and runs[0].status == n.SUCCEEDED and runs[0].orders_read == ORDERS
    assert runs[0].configurations < ORDERS and runs[0].levels >= 6
    demand = read(spark, lake, n.PART_DEMAND)
    assert demand.count() == runs[0].part_demand_rows > 0
    detail = DeltaTable.forPath(spark, str(lake / n.PART_DEMAND)).detail().first()
    assert detail.partitionColumns == [n.PLANT_ID, n.MODEL_ID]
    # one file per (plant, model): orders and plan rows of a folder written by one task, not one file each
    assert detail.numFiles == demand.select(n.PLANT_ID, n.MODEL_ID).distinct().count()
    assert demand.where(F.col(n.PART_TYPE) == n.PHANTOM).count() == 0
    assert demand.where(F.col(n.QUANTITY).isNull() | (F.col(n.QUANTITY) <= 0)).count() == 0
    assert {r.run_id for r in demand.select(n.RUN_ID).distinct().collect()} == {runs[0].run_id}
    from pipeline import about, config
    assert runs[0].bomflow_version == about.version() and runs[0].config_sha256 == config.fingerprint(config.load("test"))
    assert runs[0].git_revision == about.git_revision()


def test_summary_totals_equal_part_demand_totals_in_every_bucket(spark, lake):
    demand = read(spark, lake, n.PART_DEMAND).groupBy(n.PLANT_ID, n.PART_ID).agg(F.sum(n.QUANTITY).alias("total"))
    summary = read(spark, lake, n.DEMAND_SUMMARY)
    for bucket in n.BUCKETS:
        totals = (summary.where(F.col(n.BUCKET) == bucket)
                  .groupBy(n.PLANT_ID, n.PART_ID).agg(F.sum(n.QUANTITY).alias("total")))
        assert_df_equality(totals, demand, ignore_row_order=True, ignore_nullable=True)


def test_week_buckets_start_on_monday_and_months_on_the_first(spark, lake):
    summary = read(spark, lake, n.DEMAND_SUMMARY)
    weekdays = {r[0] for r in summary.where(F.col(n.BUCKET) == n.WEEK).select(F.dayofweek(n.BUCKET_START)).distinct().collect()}
    assert weekdays == {2}   # Spark: 1 = Sunday, 2 = Monday
    assert {r[0] for r in summary.where(F.col(n.BUCKET) == n.MONTH).select(F.dayofmonth(n.BUCKET_START)).distinct().collect()} == {1}


def test_rerun_on_the_same_source_gives_identical_outputs(spark, history):
    """Runs 1 and 2 of the shared history lake read the same source: equal outputs but for run_id."""
    first, second = [r for r in read(spark, history.lake, n.RUNS).collect() if r.run_id in history.run_ids[:2]]
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        a, b = (lk.committed_table(spark, str(history.lake), run, table).drop(n.RUN_ID) for run in (first, second))
        assert a.count() > 0
        assert_df_equality(a, b, ignore_row_order=True)


def _one_clear_line(capfd, *fragments):
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("bomflow: error:")]
    assert lines, err[-2000:]
    for fragment in fragments:
        assert fragment in err, err[-2000:]
    assert "Traceback" not in err and "\tat org.apache" not in err and "Py4JJavaError" not in err


def test_missing_source_folder_is_one_clear_error(tmp_path, capfd):
    assert cli.main(["run", "--source", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake")]) == 2
    _one_clear_line(capfd, "does not exist")


def test_missing_table_and_wrong_type_are_listed_together(spark, source, tmp_path, capfd):
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    shutil.rmtree(broken / n.BOM_ITEMS)
    parts = spark.read.parquet(str(source / n.PARTS)).withColumn(n.LEAD_TIME_DAYS, F.col(n.LEAD_TIME_DAYS).cast("string"))
    shutil.rmtree(broken / n.PARTS)
    parts.write.parquet(str(broken / n.PARTS))
    orders = spark.read.parquet(str(source / n.PRODUCTION_ORDERS)).withColumn(n.QUANTITY, F.col(n.QUANTITY).cast("bigint"))
    shutil.rmtree(broken / n.PRODUCTION_ORDERS)
    orders.write.parquet(str(broken / n.PRODUCTION_ORDERS))
    assert cli.main(["run", "--source", str(broken), "--lake", str(tmp_path / "lake")]) == 2
    _one_clear_line(capfd, "bom_items: missing table", "parts.lead_time_days: type string, expected int",
                    "production_orders.quantity: type bigint, expected int")   # wider: refused, never cut


def test_column_types_narrower_than_the_contract_widen_and_wider_ones_are_refused():
    from pyspark.sql.types import DecimalType, IntegerType, LongType, ShortType
    from adapters.lake import widens_losslessly

    assert widens_losslessly(DecimalType(10, 2), DecimalType(18, 6)) and widens_losslessly(ShortType(), IntegerType())
    assert widens_losslessly(IntegerType(), DecimalType(18, 6))
    assert not widens_losslessly(DecimalType(38, 6), DecimalType(18, 6))     # 32 integer digits do not fit 12
    assert not widens_losslessly(DecimalType(18, 8), DecimalType(18, 6))     # scale 8 would be rounded
    assert not widens_losslessly(LongType(), IntegerType()) and not widens_losslessly(LongType(), DecimalType(18, 6))


def test_an_unknown_config_key_is_an_error_that_names_it(tmp_path, capfd):
    overlay = tmp_path / "typo.yaml"
    overlay.write_text("gates:\n  max_quarantine_pct: 3\nspark:\n  conf:\n    spark.any.key: x\n")
    assert cli.main(["config", "show", "--conf", str(overlay)]) == 2
    err = capfd.readouterr().err
    assert "unknown key(s) gates.max_quarantine_pct" in err and "spark.any" not in err   # spark.conf is open


def test_config_show_prints_the_merged_configuration_and_the_hash_the_runs_table_records(tmp_path, capfd):
    import yaml
    from pipeline import about, config
    overlay = tmp_path / "night.yaml"
    overlay.write_text("gates:\n  max_quarantined_pct: 3\n")
    assert cli.main(["config", "show", "--env", "test", "--conf", str(overlay)]) == 0
    out = capfd.readouterr().out
    shown = yaml.safe_load(out)
    assert shown["gates"]["max_quarantined_pct"] == 3 and shown["solr"]["port"] == 8984   # overlay over test over base
    assert f"config_sha256: {config.fingerprint(shown)}" in out and about.describe() in out
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and about.describe() in capfd.readouterr().out



def test_a_lake_or_source_on_a_filesystem_spark_lacks_is_one_clear_error(spark, tmp_path, capfd):
    for source, lake in (("nosuch://bucket/source", str(tmp_path / "lake")), (str(tmp_path), "nosuch://bucket/lake")):
        assert cli.main(["run", "--source", source, "--lake", lake, "--no-publish"]) == 2
        _one_clear_line(capfd, "Spark has no Hadoop filesystem for 'nosuch://'")
