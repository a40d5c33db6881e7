"""Quarantine, blocked models, gates and faults on `bomflow generate --bad` data (issue: bad input never crashes the night)."""
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from adapters import lease
from jobs import cli
from pipeline.errors import Exit
from pipeline.faults import VARIABLE as FAILPOINT
from pipeline.generate import BLOCKED_BY_BAD_ROWS, bad_rows
from schemas import names as n
from tests.builders import (RUN_DATE, SAMPLE_ORDERS as ORDERS, SAMPLE_START, SHORT_LIVED_JVM, generated_source,
                            read_table)

INJECTED = {
    (n.PARTS, "BAD-DUP", n.DUPLICATE_KEY), (n.PARTS, "BAD-TYPE", n.UNKNOWN_PART_TYPE),
    (n.PARTS, "BAD-NOSUP", n.PURCHASED_WITHOUT_SUPPLIER), (n.PARTS, "BAD-LEAD", n.INVALID_LEAD_TIME),
    (n.BOM_ITEMS, "BAD-E-DUP", n.DUPLICATE_KEY), (n.BOM_ITEMS, "BAD-E-PARENT", n.UNKNOWN_PARENT),
    (n.BOM_ITEMS, "BAD-E-CHILD", n.UNKNOWN_CHILD), (n.BOM_ITEMS, "BAD-E-PURCHASED", n.PURCHASED_PARENT),
    (n.BOM_ITEMS, "BAD-E-QTY", n.NON_POSITIVE_QUANTITY), (n.BOM_ITEMS, "BAD-E-SCRAP", n.SCRAP_OUT_OF_RANGE),
    (n.BOM_ITEMS, "BAD-E-VALID", n.INVALID_VALIDITY), (n.BOM_ITEMS, "BAD-E-RULE", n.INVALID_RULE),
    (n.BOM_ITEMS, "BAD-E-CYC2", n.CYCLE), (n.BOM_ITEMS, "BAD-E-CYC3", n.CYCLE),
    (n.PRODUCTION_ORDERS, "BAD-O-PLANT", n.UNKNOWN_PLANT), (n.PRODUCTION_ORDERS, "BAD-O-MODEL", n.UNKNOWN_MODEL),
    (n.PRODUCTION_ORDERS, "BAD-O-QTY", n.INVALID_QUANTITY), (n.PRODUCTION_ORDERS, "BAD-O-DATE", n.MISSING_DATE),
    (n.PRODUCTION_ORDERS, "BAD-O-CODE", n.MALFORMED_OPTION_CODE), (n.PRODUCTION_ORDERS, "BAD-O-DUP", n.DUPLICATE_KEY),
    (n.OPTION_TAKE_RATES, "G60|2026-04-01|XBAD1", n.TAKE_RATE_OUT_OF_RANGE),
    (n.OPTION_TAKE_RATES, "G60|2026-04-01|XBAD2", n.FAMILY_OVER_ONE),
    (n.OPTION_TAKE_RATES, "NOPE|2026-04-01|HUD", n.UNKNOWN_MODEL),
    (n.OPTION_TAKE_RATES, "G05|2026-04-04|XBAD3", n.INVALID_MONTH),
    (n.VOLUME_PLAN, "DIN|NOPE|2026-04-01", n.UNKNOWN_MODEL),
    (n.VOLUME_PLAN, "GWD|RR21|2026-04-15", n.DUPLICATE_KEY),   # also not a first day (detail)
    (n.PARTS, "BAD-UNIT", n.UNKNOWN_UNIT),
    (n.BOM_ITEMS, "BAD-E-BIG", n.QUANTITY_TOO_LARGE), (n.BOM_ITEMS, "BAD-E-OLD", n.DATE_OUT_OF_RANGE),
    (n.PRODUCTION_ORDERS, "BAD-O-NOOPT", n.MISSING_OPTION_CODES), (n.PRODUCTION_ORDERS, "BAD-O-FAR", n.DATE_OUT_OF_RANGE),
    (n.OPTION_TAKE_RATES, "G60|2030-01-01|XDUP", n.DUPLICATE_KEY), (n.OPTION_TAKE_RATES, "G60|1990-01-01|XOLD", n.DATE_OUT_OF_RANGE),
    # every G60 ENGINE rate of that month is quarantined with XBAD2, so both G60 plan rows of the month are too
    *{(n.OPTION_TAKE_RATES, f"G60|2026-04-01|{code}", n.FAMILY_OVER_ONE) for code in ("B48", "B58", "B57")},
    (n.VOLUME_PLAN, "DIN|G60|2026-04-01", n.TAKE_RATES_QUARANTINED),
    (n.VOLUME_PLAN, "MUC|G60|2026-04-01", n.TAKE_RATES_QUARANTINED),
}


read = read_table


def version(spark, lake, table):
    return DeltaTable.forPath(spark, str(Path(lake) / table)).history(1).first().version


def runs(spark, lake):
    return read(spark, lake, n.RUNS).orderBy("started_at").collect()


@pytest.fixture(scope="module")
def good_then_bad(sources, clean_lake, tmp_path_factory):
    """(the shared clean one-run lake, a copy of it after a run on the same data plus one bad row per
    quarantine reason), both at the sample run date."""
    lake = tmp_path_factory.mktemp("lakes") / "good_then_bad"
    shutil.copytree(clean_lake, lake)
    assert cli.main(["run", "--source", str(sources / "bad"), "--lake", str(lake), "--run-date", RUN_DATE]) == 0
    return clean_lake, lake


def test_every_injected_defect_is_quarantined_with_its_reason(spark, good_then_bad):
    _, lake = good_then_bad
    last = runs(spark, lake)[-1]
    rows = read(spark, lake, n.QUARANTINE).where(F.col(n.RUN_ID) == last.run_id)
    found = {(r.table_name, r.row_key, r.reason) for r in rows.collect()}
    assert INJECTED <= found
    assert {r for r in found if r[2] != n.MODEL_BLOCKED} == INJECTED
    blocked = rows.where(F.col("reason") == n.MODEL_BLOCKED)
    assert blocked.count() > 0
    assert {json.loads(r.raw_json)[n.MODEL_ID] for r in blocked.collect()} == {BLOCKED_BY_BAD_ROWS}
    assert all("BAD-E-" in r.detail for r in blocked.select("detail").distinct().collect())


def test_runs_row_reconciles_every_input_table(spark, good_then_bad):
    _, lake = good_then_bad
    last = runs(spark, lake)[-1]
    assert last.status == n.SUCCEEDED and last.gate_result == n.PASSED
    counts = json.loads(last.reconciliation_json)
    assert set(counts) == {n.PLANTS, n.VEHICLE_MODELS, n.PARTS, n.BOM_ITEMS, n.PRODUCTION_ORDERS,
                           n.VOLUME_PLAN, n.OPTION_TAKE_RATES}
    for table, c in counts.items():
        assert c["read"] == c["used"] + c["quarantined"], table
    injected_orders = len(bad_rows(date.fromisoformat(SAMPLE_START), 28)[n.PRODUCTION_ORDERS])
    assert injected_orders == len({key for table, key, _ in INJECTED if table == n.PRODUCTION_ORDERS}) + 1  # BAD-O-DUP twice
    assert counts[n.PRODUCTION_ORDERS]["read"] == ORDERS + injected_orders
    assert json.loads(last.blocked_models).keys() == {BLOCKED_BY_BAD_ROWS}
    assert Path(last.validation_docs.removeprefix("file://")).is_file()


def test_clean_models_get_exactly_the_demand_they_get_without_bad_rows(spark, good_then_bad):
    good, bad = good_then_bad
    clean_models = F.col(n.MODEL_ID) != BLOCKED_BY_BAD_ROWS
    expected = read(spark, good, n.PART_DEMAND).where(clean_models).drop(n.RUN_ID)
    actual = read(spark, bad, n.PART_DEMAND).where(clean_models).drop(n.RUN_ID)
    assert actual.count() > 0
    assert_df_equality(actual, expected, ignore_row_order=True)


def test_blocked_model_keeps_its_last_good_demand_marked_stale(spark, good_then_bad):
    good, bad = good_then_bad
    first_run = runs(spark, good)[-1].run_id
    blocked = F.col(n.MODEL_ID) == BLOCKED_BY_BAD_ROWS
    carried = read(spark, bad, n.PART_DEMAND).where(blocked)
    assert {r[0] for r in carried.select(n.CARRIED_FROM_RUN_ID).distinct().collect()} == {first_run}
    assert_df_equality(carried.drop(n.RUN_ID, n.CARRIED_FROM_RUN_ID),
                       read(spark, good, n.PART_DEMAND).where(blocked).drop(n.RUN_ID, n.CARRIED_FROM_RUN_ID),
                       ignore_row_order=True)
    assert runs(spark, bad)[-1].carried_rows == carried.count() > 0


def test_blocked_model_on_a_fresh_lake_has_no_rows(spark, bad_lake):
    demand = read(spark, bad_lake, n.PART_DEMAND)
    assert demand.where(F.col(n.MODEL_ID) == BLOCKED_BY_BAD_ROWS).count() == 0
    assert demand.count() > 0


def _assert_untouched(spark, lake, before):
    for table, v in before.items():
        assert version(spark, lake, table) == v, table


def _versions(spark, lake):
    return {t: version(spark, lake, t) for t in (n.PART_DEMAND, n.DEMAND_SUMMARY)}


def test_input_gate_failure_commits_nothing(spark, sources, good_then_bad, tmp_path, capfd):
    lake = tmp_path / "lake"
    shutil.copytree(good_then_bad[0], lake)
    strict = tmp_path / "strict.yaml"
    strict.write_text("gates:\n  max_quarantined_pct: 0.01\n")
    before = _versions(spark, lake)
    assert cli.main(["run", "--source", str(sources / "bad"), "--lake", str(lake), "--conf", str(strict),
                     "--run-date", RUN_DATE]) == Exit.GATE_FAILED
    assert "input gate failed" in capfd.readouterr().err
    _assert_untouched(spark, lake, before)
    last = runs(spark, lake)[-1]
    assert last.status == n.FAILED and last.gate_result == "failed: input"


def test_output_gate_drift_failure_commits_nothing(spark, good_then_bad, tmp_path, capfd):
    lake = tmp_path / "lake"
    shutil.copytree(good_then_bad[0], lake)
    other = generated_source(tmp_path / "other_sample", ORDERS // 3)
    before = _versions(spark, lake)
    assert cli.main(["run", "--source", str(other), "--lake", str(lake), "--run-date", RUN_DATE]) == Exit.GATE_FAILED
    err = capfd.readouterr().err
    assert "output gate failed" in err and "changed by -" in err
    _assert_untouched(spark, lake, before)
    assert runs(spark, lake)[-1].gate_result == "failed: output"


def _killed_run(lake, source, point, while_running=None):
    """A `bomflow run` subprocess that SIGKILLs itself at `point`; while_running(pid) is called once it
    holds the lake's lease."""
    env = {**os.environ, "BOMFLOW_ENV": "test", FAILPOINT: f"{point}:kill", "PYSPARK_PYTHON": sys.executable,
           **SHORT_LIVED_JVM}
    child = subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", "--source", str(source), "--lake", str(lake),
                              "--run-date", RUN_DATE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if while_running is not None:
        deadline = time.monotonic() + 120
        while (held := lease.current(str(lake))) is None or held.pid != child.pid:
            assert child.poll() is None and time.monotonic() < deadline, "the night never took the lease"
            time.sleep(0.2)
        while_running(child.pid)
    _, err = child.communicate(timeout=600)
    assert child.returncode == -9, err[-2000:]


def test_a_sigkilled_night_keeps_the_last_good_state_and_one_rerun_repairs(spark, sources, good_then_bad, tmp_path,
                                                                           capfd):
    """Two runs started on one lake: the second is refused at once (exit 5, naming the holder). The first
    is SIGKILLed between its part_demand and demand_summary commits: no `finally` runs,
    so it leaves no runs row and a lease held by a dead process. Readers stay on the good run; the next
    night takes the lease over, puts part_demand back and succeeds. (A crash at every commit point
    without a kill: test_commit_points.py; a failure before the commit: the gate tests above.)"""
    lake, clean = tmp_path / "lake", sources / "clean"
    shutil.copytree(good_then_bad[0], lake)
    before, runs_before = _versions(spark, lake), runs(spark, lake)
    good_run = runs_before[-1].run_id

    def a_second_run_is_refused_at_once(pid):   # two runs started together: one runs, one is refused
        started = time.monotonic()
        assert cli.main(["run", "--source", str(clean), "--lake", str(lake), "--run-date", RUN_DATE]) == Exit.LAKE_BUSY
        assert time.monotonic() - started < 15 and f"(pid {pid})" in capfd.readouterr().err
    _killed_run(lake, clean, "after_part_demand", a_second_run_is_refused_at_once)
    assert version(spark, lake, n.PART_DEMAND) == before[n.PART_DEMAND] + 1       # it did write part_demand
    assert version(spark, lake, n.DEMAND_SUMMARY) == before[n.DEMAND_SUMMARY]     # and nothing after it
    assert len(runs(spark, lake)) == len(runs_before)                             # no row for the killed night
    assert [r.run_id for r in runs(spark, lake) if r.status == n.SUCCEEDED][-1] == good_run
    left = lease.current(str(lake))
    assert left is not None and left.command == "run" and left.pid != os.getpid()

    assert cli.main(["run", "--source", str(clean), "--lake", str(lake), "--run-date", RUN_DATE]) == 0
    last = runs(spark, lake)[-1]
    assert last.status == n.SUCCEEDED and lease.current(str(lake)) is None
    assert [line.split(":")[0] for line in json.loads(last.metrics_json)["repaired"]] == [n.PART_DEMAND]
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        assert {r[0] for r in read(spark, lake, table).select(n.RUN_ID).distinct().collect()} == {last.run_id}


def test_validate_command_runs_the_input_gate_alone(sources, tmp_path, capfd):
    assert cli.main(["validate", "--source", str(sources / "bad"), "--docs", str(tmp_path / "docs")]) == 0
    out = capfd.readouterr().out
    assert "input gate" in out and "passed" in out and f"BLOCKED model {BLOCKED_BY_BAD_ROWS}" in out
    assert list((tmp_path / "docs").glob("*/gx/uncommitted/data_docs/local_site/index.html"))
    strict = tmp_path / "strict.yaml"
    strict.write_text("gates:\n  max_quarantined_pct: 0.01\n")
    assert cli.main(["validate", "--source", str(sources / "bad"), "--conf", str(strict)]) == Exit.GATE_FAILED
