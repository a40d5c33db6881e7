"""Exception messages (transforms/exceptions.py) on a hand-checked case, without a night, and on the shared
clean lake against a plain-Python reading of its part_demand."""
from collections import defaultdict
from datetime import date
from decimal import Decimal

from pyspark.sql import functions as F

from adapters import lake as lk
from schemas import names as n
from schemas.tables import PART_DEMAND
from transforms.exceptions import exceptions

RUN_DATE = date(2026, 3, 4)   # a Wednesday: the near horizon is the weeks of 03-02, 03-09, 03-16, 03-23
SETTINGS = {"jump_pct": 30, "jump_weeks": 4, "run_out_days": 28}


def demand_row(part, demand_date, quantity, order_date=None, carried=None, model="M1", plant="P1"):
    return {n.RUN_ID: "R1", n.SOURCE: "orders", n.PLANT_ID: plant, n.MODEL_ID: model, n.PART_ID: part,
            n.PART_TYPE: "purchased", n.UNIT: "H87", n.SUPPLIER_ID: None, n.DEMAND_DATE: demand_date,
            n.ORDER_DATE: order_date or demand_date, n.QUANTITY: Decimal(quantity), n.CARRIED_FROM_RUN_ID: carried}


def frame(spark, rows):
    return spark.createDataFrame([tuple(r[f.name] for f in PART_DEMAND.fields) for r in rows], PART_DEMAND)


def test_each_kind_on_a_hand_checked_case(spark):
    now = frame(spark, [
        demand_row("A", date(2026, 3, 3), "2", order_date=date(2026, 3, 1)),    # ordered too late ...
        demand_row("A", date(2026, 3, 5), "3", order_date=date(2026, 3, 1)),    # ... same order date ...
        demand_row("A", date(2026, 4, 7), "4", order_date=date(2026, 2, 27)),   # ... and an earlier one: one LATE row
        demand_row("A", date(2026, 3, 6), "1", order_date=RUN_DATE),            # ordered today: in time
        demand_row("B", date(2026, 3, 2), "7", order_date=date(2026, 2, 1), carried="R0", model="M2"),  # STALE only
        demand_row("C", date(2026, 3, 10), "11"),                               # +10 %: no jump
        demand_row("E", date(2026, 3, 24), "2"),                                # new in the near horizon: jump
        demand_row("F", date(2026, 4, 7), "3"),                                 # beyond the near horizon
        demand_row("G", date(2026, 3, 10), "4"), demand_row("G", date(2026, 3, 24), "1"),   # phased out 03-25
        demand_row("H", date(2026, 3, 10), "1"),                                # its edges end after the horizon
    ])
    previous = frame(spark, [
        demand_row("A", date(2026, 3, 3), "4"),                                 # 6 now: +50 %, a jump
        demand_row("C", date(2026, 3, 11), "10"),
        demand_row("D", date(2026, 3, 17), "5"),                                # gone now: a jump to 0
        demand_row("F", date(2026, 4, 8), "1"),
        demand_row("G", date(2026, 3, 10), "4"), demand_row("G", date(2026, 3, 24), "1"),   # unchanged weeks
        demand_row("H", date(2026, 3, 10), "1"),
    ])
    edges = spark.createDataFrame(
        [("A", None), ("A", date(2026, 3, 20)), ("G", date(2026, 3, 20)), ("G", date(2026, 3, 25)),
         ("H", date(2026, 12, 31))], f"{n.CHILD_ID} string, {n.VALID_TO} date")
    found = {(r.kind, r.part_id, r.bucket_start): r for r in exceptions(now, previous, edges, RUN_DATE, "R2",
                                                                         SETTINGS).collect()}
    assert set(found) == {("LATE", "A", date(2026, 2, 27)), ("STALE", "B", date(2026, 3, 2)),
                          ("JUMP", "A", date(2026, 3, 2)), ("JUMP", "D", date(2026, 3, 16)),
                          ("JUMP", "E", date(2026, 3, 23)), ("RUN_OUT", "G", date(2026, 3, 25))}
    late = found[("LATE", "A", date(2026, 2, 27))]   # the earliest passed order date, all of it, the first need
    assert late.quantity == 9 and "needed from 2026-03-03" in late.message and "expedite" in late.message
    assert "2 order dates from 2026-02-27 to 2026-03-01 have passed" in late.message
    single = exceptions(now.where(F.col(n.ORDER_DATE) != date(2026, 2, 27)), None, edges, RUN_DATE, "R2",
                        SETTINGS).where(F.col("kind") == "LATE").collect()
    assert [(r.bucket_start, r.quantity) for r in single] == [(date(2026, 3, 1), 5)]
    assert single[0].message.startswith("order date 2026-03-01 has passed: 5.00 H87 needed from 2026-03-03")
    stale = found[("STALE", "B", date(2026, 3, 2))]
    assert (stale.model_id, stale.quantity) == ("M2", 7) and "carried from run R0" in stale.message
    assert (found[("JUMP", "A", date(2026, 3, 2))].quantity, found[("JUMP", "A", date(2026, 3, 2))].previous_quantity) == (6, 4)
    assert "(+50%)" in found[("JUMP", "A", date(2026, 3, 2))].message
    gone = found[("JUMP", "D", date(2026, 3, 16))]
    assert (gone.quantity, gone.previous_quantity) == (0, 5) and "(-100%)" in gone.message
    assert "(new)" in found[("JUMP", "E", date(2026, 3, 23))].message
    run_out = found[("RUN_OUT", "G", date(2026, 3, 25))]
    assert run_out.quantity == 5 and "the last on 2026-03-24" in run_out.message
    assert {r.run_id for r in found.values()} == {"R2"}
    assert exceptions(now, None, edges, RUN_DATE, "R2", SETTINGS).where(F.col("kind") == "JUMP").count() == 0


def test_the_night_records_late_demand_exactly_as_its_part_demand_says(spark, clean_lake):
    """On the shared clean lake (run date 2026-03-02, orders from that day on, lead times before it):
    one LATE row per plant and part with demand ordered before the run date: its earliest such order
    date and the exact sum of that demand."""
    run = lk.succeeded_run(spark, str(clean_lake))
    reference, earliest = defaultdict(Decimal), {}
    for r in lk.committed_table(spark, str(clean_lake), run, n.PART_DEMAND).collect():
        if r.order_date < run.run_date and r.carried_from_run_id is None:
            reference[(r.plant_id, r.part_id)] += r.quantity
            earliest[(r.plant_id, r.part_id)] = min(earliest.get((r.plant_id, r.part_id), r.order_date), r.order_date)
    rows = spark.read.format("delta").load(lk.table_path(str(clean_lake), n.EXCEPTIONS)).where(
        (F.col(n.RUN_ID) == run.run_id) & (F.col("kind") == "LATE")).collect()
    assert reference and {(r.plant_id, r.part_id): (r.bucket_start, r.quantity) for r in rows} == {
        key: (earliest[key], total) for key, total in reference.items()}
    import json
    assert json.loads(run.metrics_json)["exceptions"]["LATE"] == len(reference)


def test_exceptions_command_lists_the_served_run_s_messages(clean_lake, capsys):
    import csv
    import io

    from jobs import cli
    assert cli.main(["exceptions", "--lake", str(clean_lake), "--kind", "LATE", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["kind"] for r in rows} == {"LATE"} and all("expedite" in r["message"] for r in rows)
    assert cli.main(["exceptions", "--lake", str(clean_lake)]) == 0
    table = capsys.readouterr().out
    assert f"{len(rows)} exception(s)" in table or "LATE" in table
