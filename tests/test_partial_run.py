"""`bomflow run --plants/--models`: recompute one slice, replace only that slice of part_demand (Delta replaceWhere)."""
import json
import shutil

from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from jobs import cli
from adapters.lake import committed_table, succeeded_run
from schemas import names as n
from tests.builders import DROPPED_PART, read_table
from transforms.summary import demand_summary

PLANT, MODEL = "DIN", "G60"    # DIN also builds F66, whose rows must be kept


def test_partial_run_replaces_only_its_slice(spark, history, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(history.lake, lake)
    first = succeeded_run(spark, str(lake), history.run_ids[0])
    files = read_table(spark, lake, n.PART_DEMAND).inputFiles()
    slice_files = [f for f in files if f"{n.PLANT_ID}={PLANT}/{n.MODEL_ID}={MODEL}/" in f]
    before = read_table(spark, lake, n.PART_DEMAND).localCheckpoint()
    summary_before = read_table(spark, lake, n.DEMAND_SUMMARY).localCheckpoint()
    in_slice = (F.col(n.PLANT_ID) == PLANT) & (F.col(n.MODEL_ID) == MODEL)
    assert before.where(in_slice & (F.col(n.PART_ID) == DROPPED_PART)).isEmpty()   # the last run dropped it

    # the morning after: the BOM is fixed (the original source again), rerun DIN x G60 only
    assert cli.main(["run", "--source", str(history.source), "--lake", str(lake), "--no-publish",
                     "--run-date", "2026-03-02", "--plants", PLANT, "--models", MODEL]) == 0
    assert f"partial run          plants {PLANT} x models {MODEL}" in capsys.readouterr().out
    after = read_table(spark, lake, n.PART_DEMAND)
    run = succeeded_run(spark, str(lake))
    assert json.loads(run.metrics_json)["scope"] == {"plants": [PLANT], "models": [MODEL]}

    # the slice equals what a full run of that source computed for it; nothing else moved, run ids included
    full = committed_table(spark, str(lake), first, n.PART_DEMAND)
    assert_df_equality(after.where(in_slice).drop(n.RUN_ID), full.where(in_slice).drop(n.RUN_ID),
                       ignore_row_order=True, ignore_nullable=True)
    assert not after.where(in_slice & (F.col(n.PART_ID) == DROPPED_PART)).isEmpty()
    assert_df_equality(after.where(~in_slice), before.where(~in_slice), ignore_row_order=True, ignore_nullable=True)
    assert {r[0] for r in after.where(in_slice).select(n.RUN_ID).distinct().collect()} == {run.run_id}

    # demand_summary: DIN rebuilt from its new G60 rows and its kept F66 rows; other plants untouched
    summary = read_table(spark, lake, n.DEMAND_SUMMARY)
    at_plant = F.col(n.PLANT_ID) == PLANT
    expected = demand_summary(after.where(at_plant).withColumn(n.RUN_ID, F.lit(run.run_id)))
    assert_df_equality(summary.where(at_plant), expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(summary.where(~at_plant), summary_before.where(~at_plant), ignore_row_order=True,
                       ignore_nullable=True)

    # the commit was a replaceWhere of the slice, not a rewrite of the table
    commit = DeltaTable.forPath(spark, str(lake / n.PART_DEMAND)).history(1).first()
    assert commit.operation == "WRITE" and PLANT in commit.operationParameters["predicate"]
    assert int(commit.operationMetrics["numRemovedFiles"]) == len(slice_files) < len(files)


def test_partial_run_with_an_unknown_plant_is_refused(history, tmp_path, capsys):
    assert cli.main(["run", "--source", str(history.source), "--lake", str(tmp_path / "lake"), "--no-publish",
                     "--plants", "DIN,XXX"]) == 2
    assert "XXX not in the source's plants" in capsys.readouterr().err
