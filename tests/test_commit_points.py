"""One consistent state: a night that dies anywhere inside its commit leaves every reader on the last
good state, and the next (partial) night repairs the tables and says so. One run at a time: the lease.

A tiny two-plant source keeps each night short. The crash is injected into `commit()` itself (the
code under test); the whole-night SIGKILL variant lives in test_quarantine_gates.py.
"""
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from adapters import lake as lk
from adapters import lease
from jobs import cli
from pipeline.errors import Exit
from pipeline.faults import VARIABLE as FAILPOINT, InjectedFault
from pipeline.night import COMMITTED, PEGGING, Outputs, commit, previous_demand
from schemas import names as n
from tests.builders import Case, edge, frame, order, part
from transforms.scope import Scope
from pyspark.sql import functions as F

POINTS = ["after_part_demand", "after_demand_summary", "after_master_data"]


def tiny_case() -> Case:
    return Case(parts=[part("SEAT", "assembly"), part("BOLT"), part("LABEL", lead=2)],
                bom_items=[edge("M1", "SEAT", "2"), edge("SEAT", "BOLT", "4"), edge("M1", "LABEL", plant="P2")],
                production_orders=[order("O1", "M1", plant="P1", quantity=3), order("O2", "M1", plant="P2")])


@pytest.fixture(scope="module")
def tiny(spark, tmp_path_factory):
    """(source, lake after one good night) of tiny_case()."""
    root = tmp_path_factory.mktemp("tiny")
    for table, rows in tiny_case().rows().items():
        frame(spark, table, rows).write.parquet(str(root / "source" / table))
    assert cli.main(["run", "--source", str(root / "source"), "--lake", str(root / "lake"), "--no-publish",
                     "--run-date", "2026-03-02"]) == 0
    return root / "source", root / "lake"


def served(spark, lake) -> dict:
    """What readers see: the serving run and every committed table's rows, plus the drift baseline."""
    run = lk.succeeded_run(spark, str(lake))
    tables = {t: sorted(map(tuple, lk.committed_table(spark, str(lake), run, t).collect())) for t in COMMITTED}
    return {"run": run.run_id, "tables": tables,
            "baseline": sorted(map(tuple, previous_demand(spark, str(lake), lk.serving_run(spark, str(lake))).collect()))}


def latest(spark, lake, table) -> list[tuple]:
    return sorted(map(tuple, spark.read.format("delta").load(lk.table_path(str(lake), table)).collect()))


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_inside_the_commit_leaves_readers_on_the_last_good_state(spark, tiny, point, tmp_path, monkeypatch):
    """commit() dies after part_demand, after demand_summary or after the master data: readers see the
    good state; repair() (the first step of every night) puts exactly the tables that moved back."""
    _, good_lake = tiny
    lake = tmp_path / "lake"
    shutil.copytree(good_lake, lake)
    before = served(spark, lake)
    run = lk.succeeded_run(spark, str(lake))
    new = {t: lk.committed_table(spark, str(lake), run, t) for t in COMMITTED}
    for t in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        new[t] = new[t].withColumn(n.RUN_ID, F.lit("crashed"))
    for table, column in ((n.PLANTS, "name"), (n.PARTS, "description"), (n.VEHICLE_MODELS, "name"),
                          (n.BOM_ITEMS, n.RULE), (n.ORDER_SIGNATURES, n.ORDER_ID), (n.SIGNATURES, n.MODEL_ID)):
        new[table] = new[table].withColumn(column, F.lit("crashed"))
    outputs = Outputs(new[n.PART_DEMAND], None, new[n.DEMAND_SUMMARY], None, partial=False,
                      pegging={t: new[t] for t in PEGGING})
    monkeypatch.setenv(FAILPOINT, point)
    with pytest.raises(InjectedFault):
        commit(str(lake), outputs, SimpleNamespace(used=new), Scope(), "crashed")
    monkeypatch.delenv(FAILPOINT)
    written = COMMITTED[:COMMITTED.index(n.DEMAND_SUMMARY) + 1] if point == "after_demand_summary" else (
        COMMITTED[:1] if point == "after_part_demand" else COMMITTED)
    assert all(latest(spark, lake, t) != before["tables"][t] for t in written)   # it did write
    assert served(spark, lake) == before
    repaired = lk.repair(spark, str(lake), COMMITTED, lk.serving_run(spark, str(lake)))
    assert [line.split(":")[0] for line in repaired] == list(written)
    assert all(latest(spark, lake, t) == before["tables"][t] for t in COMMITTED)
    assert lk.repair(spark, str(lake), COMMITTED, lk.serving_run(spark, str(lake))) == []   # repaired once, not again
    for table in COMMITTED:   # the log-file reading of the newest commit agrees with Delta's own history
        from delta.tables import DeltaTable
        mine, delta = lk.newest_commit(spark, str(lake), table), DeltaTable.forPath(
            spark, lk.table_path(str(lake), table)).history(1).first()
        assert (mine.version, mine.operation, mine.userMetadata) == (delta.version, delta.operation, delta.userMetadata)
        assert {k: v for k, v in mine.operationParameters.items() if v is not None} == {
            k: v for k, v in delta.operationParameters.items() if v is not None}
    assert served(spark, lake) == before


def test_a_night_killed_before_its_runs_row_then_a_partial_rerun_then_a_restore(spark, tiny, tmp_path, monkeypatch):
    """The whole night dies after its last table write: readers stay on the good run. A partial rerun
    of plant P1 repairs the tables first (and says so), so P2 keeps the good run's rows. `restore`
    of the first run then makes it what readers serve again."""
    source, good_lake = tiny
    lake = tmp_path / "lake"
    shutil.copytree(good_lake, lake)
    before = served(spark, lake)
    monkeypatch.setenv(FAILPOINT, "before_runs_row")
    with pytest.raises(InjectedFault):
        cli.main(["run", "--source", str(source), "--lake", str(lake), "--no-publish"])
    monkeypatch.delenv(FAILPOINT)
    assert latest(spark, lake, n.PART_DEMAND) != before["tables"][n.PART_DEMAND]
    assert served(spark, lake) == before

    assert cli.main(["run", "--source", str(source), "--lake", str(lake), "--no-publish", "--plants", "P1"]) == 0
    last = lk.succeeded_run(spark, str(lake))
    repaired = json.loads(last.metrics_json)["repaired"]
    assert [line.split(":")[0] for line in repaired] == list(COMMITTED), repaired
    rows = lk.committed_table(spark, str(lake), last, n.PART_DEMAND).collect()
    assert {(r.plant_id, r.run_id) for r in rows} == {("P1", last.run_id), ("P2", before["run"])}
    assert latest(spark, lake, n.PART_DEMAND) == sorted(map(tuple, rows))

    assert cli.main(["restore", "--lake", str(lake), "--run", before["run"]]) == 0
    assert served(spark, lake) == before   # publish, export, diff and the next night's baseline read run 1 again


# --- the lease -----------------------------------------------------------------------------------------------

def _take(lake, barrier, results):
    barrier.wait()
    try:
        with lease.held(str(lake), "run"):
            results.put(("held", os.getpid()))
            time.sleep(1.5)
    except lease.LeaseHeld as err:
        results.put(("refused", str(err)))


def test_of_two_commands_started_together_exactly_one_holds_the_lake(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_take, args=(tmp_path, barrier, results)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert sorted(kind for kind, _ in outcomes) == ["held", "refused", "refused", "refused"]
    holder = next(pid for kind, pid in outcomes if kind == "held")
    assert all(f"(pid {holder})" in text and "is busy" in text for kind, text in outcomes if kind == "refused")
    assert lease.current(str(tmp_path)) is None   # released at the end


def test_a_stale_lease_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    old = lease.Lease(token="x", command="run", owner="night", host=os.uname().nodename, pid=int(dead.stdout),
                      started_at="2026-01-01T00:00:00+00:00", heartbeat_at="2026-01-01T00:00:00+00:00")
    (tmp_path / lease.LEASE_FILE).write_text(json.dumps(old.__dict__))
    with lease.held(str(tmp_path), "maintain") as mine:   # dead pid and an old heartbeat: stale
        assert lease.current(str(tmp_path)).token == mine.token
    alive = lease.Lease(**{**old.__dict__, "pid": os.getppid(), "heartbeat_at": old.started_at})   # alive, not us
    (tmp_path / lease.LEASE_FILE).write_text(json.dumps(alive.__dict__))
    with lease.held(str(tmp_path), "run", settings={"stale_after_seconds": 60}):   # alive, but silent for months
        pass
    fresh = lease.Lease(**{**alive.__dict__, "heartbeat_at": lease._now()})
    (tmp_path / lease.LEASE_FILE).write_text(json.dumps(fresh.__dict__))
    with pytest.raises(lease.LeaseHeld, match="bomflow run` by night"):
        lease.acquire(lease.FileStore(str(tmp_path)), "run", wait_seconds=1)
    lost = lease.Lease(**{**fresh.__dict__, "pid": os.getpid(), "token": "lost"})   # our pid, a release that failed
    (tmp_path / lease.LEASE_FILE).write_text(json.dumps(lost.__dict__))
    with lease.held(str(tmp_path), "run") as mine:
        assert lease.current(str(tmp_path)).token == mine.token


def test_of_two_takers_of_one_stale_lease_exactly_one_wins(tmp_path):
    """Both saw the same stale holder; the first takes it over, the second must not move the first's fresh
    lease aside (a rename of whatever is at the path would) and must find the lease held."""
    store = lease.FileStore(str(tmp_path))
    stale = lease.Lease(token="old", command="run", owner="night", host="gone", pid=1,
                        started_at="2026-01-01T00:00:00+00:00", heartbeat_at="2026-01-01T00:00:00+00:00")
    assert store.create(stale)
    first, second = (lease.Lease(**{**stale.__dict__, "token": token, "heartbeat_at": lease._now()})
                     for token in ("first", "second"))
    seen_by_both = store.current()
    assert store.take_over(seen_by_both, first)
    assert not store.take_over(seen_by_both, second)
    assert store.current().token == "first" and sorted(p.name for p in tmp_path.iterdir()) == [lease.LEASE_FILE]


def test_a_heartbeat_that_cannot_reach_its_store_beats_again_and_keeps_the_lease(tmp_path, monkeypatch):
    """Solr restarting under a publish: a heartbeat's write fails; the lease is kept and the next beat lands."""
    class Flaky(lease.FileStore):
        failures = 2

        def rewrite(self, held):
            if self.failures:
                self.failures -= 1
                raise ConnectionError("store down")
            return super().rewrite(held)

    said = []
    monkeypatch.setattr(lease, "log", SimpleNamespace(**{level: lambda event, **_: said.append(event)
                                                         for level in ("info", "warning", "error")}))
    store = Flaky(str(tmp_path))
    with lease.held_in(store, "publish", settings={"heartbeat_seconds": 0.05}) as mine:
        first = store.current().heartbeat_at
        deadline = time.monotonic() + 10
        while store.failures or store.current().heartbeat_at == first:
            assert time.monotonic() < deadline, "the heartbeat stopped after its store failed"
            time.sleep(0.05)
        assert store.current().token == mine.token
    assert store.current() is None
    assert said.count("lease_heartbeat_failed") == 2 and "lease_lost" not in said


def test_a_run_on_a_held_lake_is_refused_at_once_and_changes_nothing(spark, tiny, tmp_path, capfd):
    source, good_lake = tiny
    lake = tmp_path / "lake"
    shutil.copytree(good_lake, lake)
    runs_before = lk.runs_table(spark, str(lake)).count()
    with lease.held(str(lake), "publish"):
        started = time.monotonic()
        assert cli.main(["run", "--source", str(source), "--lake", str(lake), "--no-publish"]) == Exit.LAKE_BUSY
        assert time.monotonic() - started < 10
    err = capfd.readouterr().err
    assert "is busy: `bomflow publish`" in err and f"(pid {os.getpid()})" in err
    assert lk.runs_table(spark, str(lake)).count() == runs_before
