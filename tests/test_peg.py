"""Pegging and last night's BOM (issue 17): the orders behind a week's demand, and explain / where-used on a
run's own BOM copy after the source changed. All on the shared history lake (three runs, the last on a changed
source without the TOW-HITCH edges); nothing here runs a night."""
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import functions as F

from adapters import lake as lk
from adapters.lake import read_source
from jobs import cli
from pipeline.peg import parse_week, peg
from schemas import names as n
from tests import reference
from tests.builders import DROPPED_PART, assert_matches, read_table



def output(capsys) -> str:
    return capsys.readouterr().out


def run_row(spark, lake, run_id):
    return lk.succeeded_run(spark, str(lake), run_id)


def weeks_to_peg(spark, lake, run) -> list:
    """(plant, part, week) of the run's order demand: the three largest, the one with most models, a deep part."""
    weekly = (lk.committed_table(spark, str(lake), run, n.PART_DEMAND)
              .where((F.col(n.SOURCE) == n.SOURCE_ORDERS) & F.col(n.CARRIED_FROM_RUN_ID).isNull())
              .groupBy(n.PLANT_ID, n.PART_ID, F.to_date(F.date_trunc("week", F.col(n.DEMAND_DATE))).alias("week"))
              .agg(F.sum(n.QUANTITY).alias(n.QUANTITY), F.countDistinct(n.MODEL_ID).alias("models")))
    picks = weekly.orderBy(F.desc(n.QUANTITY), n.PLANT_ID, n.PART_ID, "week").limit(3).collect()
    picks += weekly.orderBy(F.desc("models"), n.PLANT_ID, n.PART_ID, "week").limit(1).collect()
    picks += weekly.where(F.col(n.PART_ID) == "VALVE").orderBy(n.PLANT_ID, "week").limit(1).collect()
    return [(r.plant_id, r.part_id, r.week, r.quantity) for r in picks]


def test_the_pegged_orders_sum_to_the_weeks_demand_and_each_equals_the_reference(spark, history):
    """Each pegged order's quantity equals the path-by-path reference explosion of that order alone on the
    run's source, and the orders sum exactly to the week's order demand in part_demand."""
    run = run_row(spark, history.lake, None)
    assert run.run_id == history.run_ids[-1]
    source = {t: [r.asDict() for r in df.collect()] for t, df in read_source(spark, str(history.changed)).items()}
    orders = {o["order_id"]: o for o in source[n.PRODUCTION_ORDERS]}
    picks = weeks_to_peg(spark, history.lake, run)
    assert len(picks) == 5 and len({p[:3] for p in picks}) >= 3
    checked = 0
    for plant, part, week, weekly in picks:
        found = peg(spark, str(history.lake), plant, part, week)
        assert found.orders and weekly == found.order_demand, (plant, part, week)
        assert abs(found.pegged - weekly) <= Decimal("1e-12"), (plant, part, week, found.pegged, weekly)
        for row in found.orders[:8]:   # the reference walks every path of one order: a few per week suffice
            order = orders[row[n.ORDER_ID]]
            assert (order[n.PLANT_ID], order[n.MODEL_ID], order[n.PRODUCTION_DATE], order[n.QUANTITY]) == (
                plant, row[n.MODEL_ID], row[n.PRODUCTION_DATE], row["order_quantity"])
            exact = reference.explode({**source, n.PRODUCTION_ORDERS: [order]})
            key = (plant, row[n.MODEL_ID], part, row[n.DEMAND_DATE])
            assert_matches({key: row[n.QUANTITY]}, {key: exact[key]})
            checked += 1
    assert checked >= 15


def test_signature_ids_are_the_same_in_two_runs_of_one_source(spark, history):
    first, second = (run_row(spark, history.lake, r) for r in history.run_ids[:2])
    ids = [sorted(map(tuple, lk.committed_table(spark, str(history.lake), run, n.ORDER_SIGNATURES)
                      .select(n.ORDER_ID, n.SIGNATURE_ID).collect())) for run in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == first.orders_read
    signatures = {s for _, s in ids[0]}
    assert 1 < len(signatures) == first.configurations, "one id per exploded signature"
    kept = lk.committed_table(spark, str(history.lake), first, n.SIGNATURES).select(n.SIGNATURE_ID).distinct()
    assert {r[0] for r in kept.collect()} == signatures


def test_peg_command_lists_orders_as_csv_and_says_when_a_week_is_empty(spark, history, capsys):
    run = run_row(spark, history.lake, None)
    plant, part, week, weekly = weeks_to_peg(spark, history.lake, run)[0]
    iso = f"{week.isocalendar()[0]}-W{week.isocalendar()[1]:02d}"
    assert parse_week(iso) == week == parse_week((week + timedelta(days=3)).isoformat())
    assert cli.main(["peg", "--lake", str(history.lake), "--plant", plant, "--part", part, "--week", iso,
                     "--format", "csv"]) == 0
    lines = output(capsys).splitlines()
    assert lines[0] == "order_id,model_id,production_date,demand_date,order_quantity,quantity"
    assert abs(sum(Decimal(line.split(",")[-1]) for line in lines[1:]) - weekly) <= Decimal("1e-12")
    assert cli.main(["peg", "--lake", str(history.lake), "--plant", plant, "--part", part, "--week", "2031-W02"]) == 0
    assert "no demand in that week" in output(capsys)
    assert cli.main(["peg", "--lake", str(history.lake), "--plant", plant, "--part", part, "--week", "soon"]) == 2


def test_explain_and_where_used_read_the_runs_own_bom_after_the_source_changed(spark, history, capsys):
    """Run 1 had TOW-HITCH in its BOM, the served run 3 (changed source) has not: --run answers as run 1
    saw it, line for line what the source it ran on answers; without --run the served run's BOM answers."""
    first = history.run_ids[0]
    args = ["--plant", "SPA", "--model", "G05", "--date", "2026-03-04", "--options", "B58,AT8,P300,TOW"]
    assert cli.main(["explain", "--lake", str(history.lake), "--run", first, *args]) == 0
    from_run = output(capsys).splitlines()
    assert cli.main(["explain", "--source", str(history.source), *args]) == 0
    from_source = output(capsys).splitlines()
    assert f"(run {first})" in from_run[0] and f"(source {history.source})" in from_source[0]
    assert from_run[1:] == from_source[1:] and any(DROPPED_PART in line for line in from_run)
    assert cli.main(["explain", "--lake", str(history.lake), *args]) == 0
    assert not any(DROPPED_PART in line for line in output(capsys).splitlines())

    assert cli.main(["where-used", "--lake", str(history.lake), "--run", first, "--part", DROPPED_PART]) == 0
    assert "used by" in output(capsys)
    assert cli.main(["where-used", "--lake", str(history.lake), "--part", DROPPED_PART]) == 0
    assert f"not used in any valid BOM item of run {history.run_ids[-1]}" in output(capsys)
