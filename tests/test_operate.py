"""Operating commands on the shared three-run history lake: status, diff, restore, maintain, explain, where-used."""
import json
import shutil
from datetime import date
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs import cli
from adapters.lake import read_source
from schemas import names as n
from tests import reference
from tests.builders import DROPPED_PART, assert_matches, read_table


def output(capsys) -> str:
    return capsys.readouterr().out


def test_status_lists_runs_with_gates_and_durations(history, capsys):
    assert cli.main(["status", "--lake", str(history.lake)]) == 0
    text = output(capsys)
    for run_id in history.run_ids:
        assert run_id in text
    assert text.count("succeeded passed") == 3


def test_diff_of_identical_runs_exits_0(history, capsys):
    a, b, _ = history.run_ids
    assert cli.main(["diff", "--lake", str(history.lake), "--from", a, "--to", b]) == 0
    assert "0 added, 0 removed, 0 changed" in output(capsys)


def test_diff_finds_the_removed_part_and_exits_1(history, capsys):
    assert cli.main(["diff", "--lake", str(history.lake)]) == 1      # last run against the one before
    text = output(capsys)
    removed = [line for line in text.splitlines() if line.strip().startswith("removed")]
    assert removed and all(DROPPED_PART in line for line in removed)
    assert "largest differences" in text


def test_diff_threshold_hides_small_changes(history, capsys):
    a, _, c = history.run_ids
    # removing a part is never hidden by a threshold; nothing else changed between the runs
    assert cli.main(["diff", "--lake", str(history.lake), "--from", a, "--to", c, "--threshold-pct", "50"]) == 1
    assert " 0 changed" in output(capsys)


def test_diff_against_a_shadow_lake(history, tmp_path, capsys):
    shadow = tmp_path / "shadow"
    shutil.copytree(history.lake, shadow)
    assert cli.main(["diff", "--lake", str(history.lake), "--against", str(shadow)]) == 0
    assert cli.main(["diff", "--lake", str(history.lake), "--from", history.run_ids[0],
                     "--against", str(shadow), "--to", history.run_ids[2]]) == 1
    assert DROPPED_PART in output(capsys)


def test_restore_brings_back_a_runs_tables(spark, history, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(history.lake, lake)
    first = history.run_ids[0]
    versions = json.loads([r for r in read_table(spark, lake, n.RUNS).collect() if r.run_id == first][0].metrics_json)[
        "committed_versions"]
    assert cli.main(["restore", "--lake", str(lake), "--run", first]) == 0
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        then = spark.read.format("delta").option("versionAsOf", versions[table]).load(str(lake / table))
        assert_df_equality(read_table(spark, lake, table), then, ignore_row_order=True)
    assert read_table(spark, lake, n.PART_DEMAND).where(F.col(n.PART_ID) == DROPPED_PART).count() > 0
    last = read_table(spark, lake, n.RUNS).orderBy(F.col("started_at").desc()).first()
    assert last.status == "restored" and json.loads(last.metrics_json)["restored_run_id"] == first
    assert cli.main(["status", "--lake", str(lake)]) == 0
    assert f"restored {first}" in output(capsys)


def test_maintain_optimizes_and_keeps_the_data(spark, history, tmp_path, capsys):
    lake = tmp_path / "lake"
    shutil.copytree(history.lake, lake)
    before = read_table(spark, lake, n.DEMAND_SUMMARY)
    expected = before.collect()
    assert cli.main(["maintain", "--lake", str(lake)]) == 0
    assert "z-ordered" in output(capsys)
    assert sorted(read_table(spark, lake, n.DEMAND_SUMMARY).collect()) == sorted(expected)
    from delta.tables import DeltaTable
    operations = [r.operation for r in DeltaTable.forPath(spark, str(lake / n.PART_DEMAND)).history().collect()]
    assert "OPTIMIZE" in operations and "VACUUM END" in operations


def test_explain_totals_match_the_reference_and_show_switched_off_edges(spark, history, capsys):
    options = ["B58", "AT8", "P300", "TOW"]
    day = date(2026, 3, 4)
    assert cli.main(["explain", "--source", str(history.source), "--plant", "SPA", "--model", "G05",
                     "--date", day.isoformat(), "--options", ",".join(options)]) == 0
    text = output(capsys)
    assert "ENG-B57  OFF (rule false): rule 'B57'" in text
    assert "BUMPER-PLUG  OFF (rule false): rule '!TOW'" in text
    assert "ENG-B58  assembly" in text
    totals = {}
    for line in text.split("engine totals per vehicle")[1].splitlines()[1:]:
        part, demand_date, quantity = line.split()
        totals[("SPA", "G05", part, date.fromisoformat(demand_date))] = Decimal(quantity)
    tables = {t: [r.asDict() for r in df.collect()] for t, df in read_source(spark, str(history.source)).items()
              if t != n.PRODUCTION_ORDERS}
    car = {"order_id": "X", "plant_id": "SPA", "model_id": "G05", "production_date": day, "option_codes": options,
           "quantity": 1}
    assert_matches(totals, reference.explode({**tables, n.PRODUCTION_ORDERS: [car]}))


def test_explain_part_narrows_to_its_paths(history, capsys):
    assert cli.main(["explain", "--source", str(history.source), "--plant", "SPA", "--model", "G05",
                     "--date", "2026-03-04", "--options", "B58,AT8,P300", "--part", "VALVE"]) == 0
    tree = output(capsys).split("engine totals")[0].splitlines()[1:]
    assert [line.split()[1] for line in tree] == ["ENG-B57", "ENG-B58", "HEAD-6", "VALVE"]
    assert "ENG-B57  OFF (rule false)" in tree[0]


def test_where_used_lists_models_and_paths(history, capsys):
    assert cli.main(["where-used", "--source", str(history.source), "--part", "HEATMAT"]) == 0
    text = output(capsys)
    assert "used by 3 model(s): G05, G60, RR21" in text
    assert "RR21 > SEAT-RR" in text and "rule 'HEAT'" in text
    assert cli.main(["where-used", "--source", str(history.source), "--part", "NO-SUCH"]) == 0
    assert "not used" in output(capsys)


def test_diff_by_week_sees_demand_moved_between_weeks(spark):
    from transforms.diff import demand_diff
    schema = "plant_id string, part_id string, demand_date date, quantity decimal(38,18)"
    old = spark.createDataFrame([("P1", "X", date(2026, 3, 3), Decimal(10)), ("P1", "Y", date(2026, 3, 3), Decimal(4))], schema)
    new = spark.createDataFrame([("P1", "X", date(2026, 3, 10), Decimal(10)), ("P1", "Y", date(2026, 3, 4), Decimal(4))], schema)
    by_part = {(r.part_id, r.kind) for r in demand_diff(old, new, 0.0).collect()}
    assert by_part == {("X", "same"), ("Y", "same")}
    by_week = {(r.part_id, str(r.week), r.kind) for r in demand_diff(old, new, 0.0, by_week=True).collect()}
    assert by_week == {("X", "2026-03-02", "removed"), ("X", "2026-03-09", "added"), ("Y", "2026-03-02", "same")}


def test_diff_by_week_on_the_history_lake(history, capsys):
    a, b, c = history.run_ids
    assert cli.main(["diff", "--lake", str(history.lake), "--from", a, "--to", b, "--by", "week"]) == 0
    assert cli.main(["diff", "--lake", str(history.lake), "--from", b, "--to", c, "--by", "week"]) == 1
    text = output(capsys)
    assert "per plant, part and week" in text and "part-weeks:" in text
    removed = [line for line in text.splitlines() if line.strip().startswith("removed")]
    assert removed and all(DROPPED_PART in line for line in removed)
