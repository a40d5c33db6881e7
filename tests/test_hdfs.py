"""The night on a real HDFS: `--source` and `--lake` as hdfs:// URIs, through the CLI as an operator
runs it (generate, a full run, a partial rerun, status, diff, Catena-X export, restore), against Hadoop's own
MiniDFSCluster (tests/hdfs.py). The lease, the Delta logs and the Data Docs live on HDFS too."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from adapters import lake as lk
from adapters import lease
from adapters.storage import FileSystem, is_local, join, local_path, scheme
from jobs import cli
from pipeline.errors import Exit
from schemas import names as n
from tests import hdfs
from tests.builders import DROPPED_PART, RUN_DATE, SAMPLE_ORDERS, SAMPLE_START, changed_source, read_table

PLANT = "DIN"


@pytest.mark.parametrize("location, parts, joined", [
    ("s3a://bucket/lake", ("runs",), "s3a://bucket/lake/runs"),        # pathlib would give s3a:/bucket/lake/runs
    ("hdfs://namenode:8020/", ("lake", "runs"), "hdfs://namenode:8020/lake/runs"),
    ("abfss://c@account.dfs.core.windows.net/lake/", ("runs/",), "abfss://c@account.dfs.core.windows.net/lake/runs"),
    ("file:///data/lake", ("runs",), "file:///data/lake/runs"),
    ("/data/lake/", ("runs",), "/data/lake/runs"),
    ("lake", ("_validation", "r1"), "lake/_validation/r1"),
    ("/", ("lake",), "/lake"),
])
def test_join_keeps_scheme_and_authority(location, parts, joined):
    assert join(location, *parts) == joined


def test_local_locations_are_paths_and_file_uris():
    assert [is_local(x) for x in ("/data/lake", "lake", "file:///data/lake", "hdfs://nn/lake", "s3a://b/lake")] == [
        True, True, True, False, False]
    assert local_path("file:///data/lake") == "/data/lake" and local_path("lake") == "lake"
    assert scheme("C:\\data\\lake") == ""   # a drive letter is no scheme


@pytest.fixture(scope="module")
def hdfs_uri(tmp_path_factory):
    with hdfs.running(tmp_path_factory.mktemp("hdfs")) as uri:
        yield uri


@pytest.fixture(scope="module")
def on_hdfs(spark, sources, hdfs_uri, tmp_path_factory):
    """The sample source generated onto HDFS (the same as the local `sources`), a changed copy of it (no
    DROPPED_PART edges) put there, and a lake there after a full run of the first, then a partial run of
    plant DIN from the second."""
    files = FileSystem(spark, hdfs_uri)
    changed = changed_source(spark, sources / "clean", tmp_path_factory.mktemp("changed") / "source")
    source, changed_uri, lake = (join(hdfs_uri, name) for name in ("source", "changed", "lake"))
    assert cli.main(["generate", "--out", source, "--orders", str(SAMPLE_ORDERS), "--start-date", SAMPLE_START]) == 0
    files.put(str(changed), changed_uri)
    assert cli.main(["run", "--source", source, "--lake", lake, "--no-publish", "--run-date", RUN_DATE]) == 0
    assert cli.main(["run", "--source", changed_uri, "--lake", lake, "--no-publish", "--run-date", RUN_DATE,
                     "--plants", PLANT]) == 0
    runs = [r.run_id for r in lk.runs_table(spark, lake).orderBy("started_at").collect()]
    return SimpleNamespace(lake=lake, runs=runs, files=files)


def test_a_night_on_hdfs_equals_the_same_night_on_a_local_disk(spark, on_hdfs, clean_lake):
    first = lk.succeeded_run(spark, on_hdfs.lake, on_hdfs.runs[0])
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        assert_df_equality(lk.committed_table(spark, on_hdfs.lake, first, table).drop(n.RUN_ID),
                           read_table(spark, clean_lake, table).drop(n.RUN_ID), ignore_row_order=True)


def test_the_partial_rerun_on_hdfs_replaces_only_its_plant(spark, on_hdfs):
    first = lk.succeeded_run(spark, on_hdfs.lake, on_hdfs.runs[0])
    before = lk.committed_table(spark, on_hdfs.lake, first, n.PART_DEMAND)
    after = lk.lake_table(spark, on_hdfs.lake, n.PART_DEMAND, "")
    at_plant = F.col(n.PLANT_ID) == PLANT
    assert_df_equality(after.where(~at_plant), before.where(~at_plant), ignore_row_order=True)
    assert not before.where(at_plant & (F.col(n.PART_ID) == DROPPED_PART)).isEmpty()
    assert after.where(at_plant & (F.col(n.PART_ID) == DROPPED_PART)).isEmpty()


def test_status_and_diff_read_the_lake_on_hdfs(on_hdfs, capsys):
    assert cli.main(["status", "--lake", on_hdfs.lake]) == 0
    status = capsys.readouterr().out
    assert all(run_id in status for run_id in on_hdfs.runs)
    assert cli.main(["diff", "--lake", on_hdfs.lake]) == Exit.DIFFERENCES
    removed = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("removed")]
    assert removed and all(DROPPED_PART in line for line in removed)


def test_the_catenax_export_reads_the_lake_on_hdfs(spark, on_hdfs, tmp_path):
    assert cli.main(["export", "catenax", "--lake", on_hdfs.lake, "--out", str(tmp_path)]) == 0
    documents = list((tmp_path / on_hdfs.runs[-1]).rglob("*.json"))
    assert len(documents) > 100
    assert lk.newest_commit(spark, on_hdfs.lake, "catenax_ids") is not None   # its ids table is on HDFS


def test_lease_and_data_docs_live_on_hdfs(spark, on_hdfs):
    assert lease.current(on_hdfs.lake, spark) is None   # released by every command
    for run_id in on_hdfs.runs:
        docs = join(on_hdfs.lake, "_validation", run_id)
        assert on_hdfs.files.is_dir(docs) and on_hdfs.files.names(docs)
    row = lk.succeeded_run(spark, on_hdfs.lake)
    assert row.validation_docs.startswith(join(on_hdfs.lake, "_validation", row.run_id))
    assert on_hdfs.files.exists(row.validation_docs)


def test_the_lease_on_hdfs_is_exclusive_taken_over_once_and_rewritten_whole(spark, hdfs_uri):
    """The FileStore's steps on HDFS: a second create fails (rename refuses an existing target), of two
    takers of one stale lease exactly one wins, a heartbeat replaces the file, delete only if ours."""
    lake = join(hdfs_uri, "lease-only")
    store = lease.FileStore(lake, spark)
    store.files.mkdirs(lake)
    stale = lease.Lease(token="old", command="run", owner="night", host="gone", pid=1,
                        started_at="2026-01-01T00:00:00+00:00", heartbeat_at="2026-01-01T00:00:00+00:00")
    first, second = (lease.Lease(**{**stale.__dict__, "token": token, "heartbeat_at": lease._now()})
                     for token in ("first", "second"))
    assert store.create(stale) and not store.create(first)
    assert store.current().token == "old"
    seen_by_both = store.current()
    assert store.take_over(seen_by_both, first)
    assert not store.take_over(seen_by_both, second)
    assert store.current().token == "first"
    first.heartbeat_at = (datetime.now(timezone.utc) + timedelta(seconds=5)).isoformat(timespec="seconds")
    assert store.rewrite(first) and store.current().heartbeat_at == first.heartbeat_at
    assert not store.rewrite(second)
    store.delete(second)
    assert store.current().token == "first"
    with pytest.raises(lease.LeaseHeld, match="bomflow run` by night"):
        lease.acquire(store, "run", wait_seconds=0)
    store.delete(first)
    assert store.current() is None and store.files.names(lake) == []   # no staging or stale file left


def test_restore_on_hdfs_brings_back_the_full_run(spark, on_hdfs, capsys):   # last: it changes the lake
    first = lk.succeeded_run(spark, on_hdfs.lake, on_hdfs.runs[0])
    assert cli.main(["restore", "--lake", on_hdfs.lake, "--run", first.run_id]) == 0
    assert_df_equality(lk.lake_table(spark, on_hdfs.lake, n.PART_DEMAND, ""),
                       lk.committed_table(spark, on_hdfs.lake, first, n.PART_DEMAND), ignore_row_order=True)
    last = lk.runs_table(spark, on_hdfs.lake).orderBy(F.col("started_at").desc()).first()
    assert last.status == n.RESTORED
