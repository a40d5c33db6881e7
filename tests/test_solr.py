"""Blue/green publishing to a real SolrCloud started by the test session (127.0.0.1, port from conf/test.yaml)."""
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from pyspark.sql import functions as F

from adapters import solr as publish
from adapters import solr_server
from jobs import cli
from pipeline.errors import Exit
from schemas import names as n



@pytest.fixture(scope="module")
def lake(history, tmp_path_factory):
    """A copy of the shared three-run history lake: publishing records its state in `runs`."""
    copy = tmp_path_factory.mktemp("solr_lake") / "lake"
    shutil.copytree(history.lake, copy)
    return copy


def api(solr):
    return publish.Collections(solr["url"], solr_server.auth(solr, "writer"))


def reader(solr):
    return solr_server.auth(solr, "reader")


def clear(solr) -> None:
    """Delete every demand collection except the alias target (a clean slate for retention tests)."""
    admin = api(solr)
    serving = admin.aliases().get(solr["alias"])
    for name in admin.collections():
        if name.startswith(solr["collection_prefix"]) and name != serving:
            admin.delete(name)


def alias_target(solr):
    return api(solr).aliases().get(solr["alias"])


def last_run(spark, lake):
    return spark.read.format("delta").load(str(Path(lake) / n.RUNS)).orderBy(F.col("started_at").desc()).first()


def all_docs(solr) -> dict:
    reply = requests.get(f"{solr['url']}/{solr['alias']}/select",
                         params={"q": "*:*", "rows": 100_000, "fl": "id,doc_type,plant_id,part_id,bucket,quantity_exact,run_id",
                                 "wt": "json"}, timeout=60, auth=reader(solr))
    reply.raise_for_status()
    return {d["id"]: d for d in reply.json()["response"]["docs"]}


def test_publish_then_query_answers_equal_demand_summary(spark, solr, lake):
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    run = last_run(spark, lake)
    assert alias_target(solr) == f"{solr['collection_prefix']}{run.run_id}"
    assert run.publish_status == "published" and run.published_collection == alias_target(solr)
    summary = spark.read.format("delta").load(str(lake / n.DEMAND_SUMMARY)).collect()
    everything = all_docs(solr)
    docs = {i: d for i, d in everything.items() if d["doc_type"] == "demand"}
    exceptions = spark.read.format("delta").load(str(lake / n.EXCEPTIONS)).where(F.col(n.RUN_ID) == run.run_id)
    assert len(docs) == len(summary) and len(everything) == len(summary) + exceptions.count()
    for row in summary:
        doc = docs[f"{row.source}|{row.plant_id}|{row.part_id}|{row.bucket}|{row.bucket_start}"]
        assert Decimal(doc["quantity_exact"]) == row.quantity and doc["run_id"] == row.run_id
    # a planner's facet query: weekly demand of one part per plant, through the alias
    part = summary[0].part_id
    reply = requests.get(f"{solr['url']}/{solr['alias']}/select", timeout=60, auth=reader(solr), params={
        "q": f"part_id:\"{part}\" AND bucket:week", "rows": 0, "wt": "json",
        "json.facet": '{plants:{type:terms,field:plant_id,facet:{qty:"sum(quantity)"}}}'}).json()
    solr_totals = {b["val"]: b["qty"] for b in reply["facets"]["plants"]["buckets"]}
    lake_totals = {}
    for row in summary:
        if row.part_id == part and row.bucket == n.WEEK:
            lake_totals[row.plant_id] = lake_totals.get(row.plant_id, 0) + float(row.quantity)
    assert solr_totals == pytest.approx(lake_totals)


def test_exception_messages_are_served_with_their_run_s_demand_and_swap_with_it(spark, solr, history, lake,
                                                                                capsys):
    """Each run's exception messages are documents of its collection: `bomflow exceptions` through the
    alias equals the lake's rows of the run the alias serves, field for field, and a rollback serves the
    older run's messages with its demand (one alias, one swap)."""
    import json

    def through_solr(*args) -> list[dict]:
        capsys.readouterr()
        assert cli.main(["exceptions", "--format", "json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    def from_lake(run_id: str, *args) -> list[dict]:
        capsys.readouterr()
        assert cli.main(["exceptions", "--lake", str(lake), "--run-id", run_id, "--format", "json", *args]) == 0
        return json.loads(capsys.readouterr().out)

    clear(solr)
    older, newest = history.run_ids[-2], history.run_ids[-1]
    for run_id in (older, newest):
        assert cli.main(["publish", "--lake", str(lake), "--run-id", run_id]) == 0
    served = through_solr()
    assert served and served == from_lake(newest) and {r["run_id"] for r in served} == {newest}
    assert {r["kind"] for r in served} >= {"LATE"}
    one = served[0]
    assert through_solr("--plant", one["plant_id"], "--part", one["part_id"], "--kind", one["kind"]) == [
        r for r in served if (r["plant_id"], r["part_id"], r["kind"]) == (one["plant_id"], one["part_id"], one["kind"])]
    assert cli.main(["rollback"]) == 0
    assert through_solr() == from_lake(older) and publish_served(solr) == older
    assert cli.main(["exceptions", "--run-id", older]) == Exit.USER_ERROR   # Solr serves one run only


def publish_served(solr) -> str:
    from adapters import solr_query
    return solr_query.served_run_id(solr)


def test_republish_of_the_same_run_is_idempotent(spark, solr, lake, monkeypatch):
    """A publish of the run the alias serves indexes nothing while its collection holds the run's
    documents, and indexes them again when one is missing."""
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    before = all_docs(solr)
    pushed, real = [], publish._pusher
    monkeypatch.setattr(publish, "_pusher", lambda *args: pushed.append(args) or real(*args))
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    assert all_docs(solr) == before and pushed == []
    lost = sorted(before)[0]
    requests.post(f"{solr['url']}/{alias_target(solr)}/update", json={"delete": {"id": lost}}, timeout=60,
                  auth=solr_server.auth(solr, "writer"), params={"commit": "true"}).raise_for_status()
    assert lost not in all_docs(solr)
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    assert all_docs(solr) == before and len(pushed) == 1


def test_second_run_swaps_the_alias_and_keeps_the_old_collection_then_rollback(spark, solr, history, lake):
    clear(solr)   # retention keeps the newest runs by id: publish in run order, as nights do
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[1]]) == 0
    first = alias_target(solr)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[2]]) == 0
    second = alias_target(solr)
    assert second != first and {first, second} <= set(api(solr).collections())
    assert cli.main(["rollback"]) == 0
    assert alias_target(solr) == first
    assert cli.main(["rollback", "--to", second.removeprefix(solr["collection_prefix"])]) == 0
    assert alias_target(solr) == second


def test_old_collections_beyond_the_retention_are_deleted(spark, solr, history, lake):
    clear(solr)
    for run_id in history.run_ids:
        assert cli.main(["publish", "--lake", str(lake), "--run-id", run_id]) == 0
    ours = [c for c in api(solr).collections() if c.startswith(solr["collection_prefix"])]
    assert len(ours) == solr["keep_collections"] and alias_target(solr) == ours[-1]


def test_rejected_batch_mid_push_leaves_the_alias_and_removes_the_half_built_collection(
        spark, solr, history, lake, monkeypatch, capfd):
    clear(solr)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[1]]) == 0
    serving, failing_run = alias_target(solr), history.run_ids[0]
    real = publish.solr_documents

    def with_a_poisoned_document(summary):   # Solr rejects a document missing a required field
        docs = real(summary)
        return docs.unionByName(docs.limit(1).withColumn("id", F.lit("poison")).withColumn(n.PLANT_ID, F.lit(None)))
    monkeypatch.setattr(publish, "solr_documents", with_a_poisoned_document)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", failing_run]) == Exit.PUBLISH_FAILED
    err = capfd.readouterr().err
    assert "bomflow: error: indexing into" in err and "Traceback" not in err
    assert alias_target(solr) == serving
    assert f"{solr['collection_prefix']}{failing_run}" not in api(solr).collections()
    run = [r for r in spark.read.format("delta").load(str(lake / n.RUNS)).collect() if r.run_id == failing_run][0]
    assert run.publish_status == "failed"


def test_two_publishes_into_one_solr_never_interleave(spark, solr, history, lake, capfd):
    """Solr's publish lock (adapters/solr_lock.py), one document written with optimistic concurrency:
    of four takers started together exactly one gets it; while another lake's publish holds it, a
    publish and a rollback wait solr.lock_wait_seconds, then fail naming the holder, the alias untouched;
    of two takers of one stale lock exactly one wins; a publish takes a stale lock over, waits for a
    holder that finishes in time, and leaves the lock free."""
    import threading
    import time

    from adapters import lease, solr_lock

    url, auth = solr["url"], solr_server.auth(solr, "writer")
    solr_lock.ensure_collection(api(solr), 2)
    store = solr_lock.SolrStore(url, auth)

    def holder(token, heartbeat=None, lake_of="/elsewhere/lake"):
        return lease.Lease(token=token, command="publish", owner="test", host="another-host", pid=1,
                           started_at=lease._now(), heartbeat_at=heartbeat or lease._now(), lake=lake_of)

    barrier, won = threading.Barrier(4), []

    def take(i):
        mine = holder(f"taker-{i}", lake_of=f"/lake-{i}")
        barrier.wait()
        if solr_lock.SolrStore(url, auth).create(mine):
            won.append(mine)
    takers = [threading.Thread(target=take, args=(i,)) for i in range(4)]
    for t in takers:
        t.start()
    for t in takers:
        t.join(timeout=60)
    try:
        assert len(won) == 1 and store.current().token == won[0].token

        serving = alias_target(solr)
        capfd.readouterr()
        began = time.monotonic()
        assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[1]]) == Exit.PUBLISH_FAILED
        assert time.monotonic() - began >= solr["lock_wait_seconds"]
        err = capfd.readouterr().err
        assert f"`bomflow publish` of lake {won[0].lake} by test on another-host" in err and "is busy" in err, err
        assert cli.main(["rollback"]) == Exit.PUBLISH_FAILED
        assert "is busy" in capfd.readouterr().err and alias_target(solr) == serving

        long_ago = "2026-01-01T00:00:00+00:00"
        assert store.rewrite(lease.Lease(**{**won[0].__dict__, "heartbeat_at": long_ago}))
        first, second = solr_lock.SolrStore(url, auth), solr_lock.SolrStore(url, auth)
        seen_first, seen_second = first.current(), second.current()
        assert seen_first.token == seen_second.token == won[0].token
        assert first.take_over(seen_first, holder("first", long_ago))
        assert not second.take_over(seen_second, holder("second"))
        assert store.current().token == "first"

        assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[1]]) == 0   # "first" is stale
        assert alias_target(solr) == f"{solr['collection_prefix']}{history.run_ids[1]}" and store.current() is None

        released = []

        def hold_briefly():
            with solr_lock.held(solr, url, "publish", lake="/elsewhere/lake", wait_seconds=0):
                time.sleep(2)
            released.append(time.monotonic())
        other = threading.Thread(target=hold_briefly)
        other.start()
        while store.current() is None and other.is_alive():
            time.sleep(0.05)
        assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[2]]) == 0
        other.join()
        assert released and alias_target(solr) == f"{solr['collection_prefix']}{history.run_ids[2]}"
        assert store.current() is None
    finally:
        left = store.current()
        if left is not None:
            store.delete(left)


def test_solr_not_running_is_one_clear_error(lake, capfd):
    assert cli.main(["publish", "--lake", str(lake), "--solr", "http://127.0.0.1:9/solr"]) == Exit.PUBLISH_FAILED
    err = capfd.readouterr().err
    assert "Solr is not reachable at http://127.0.0.1:9/solr" in err and "bomflow solr start" in err


# --- a production-grade local Solr: persistence, replicas, authorisation ------------------------------------

def count(solr, url=None) -> int:
    reply = requests.get(f"{url or solr['url']}/{solr['alias']}/select", params={"q": "*:*", "rows": 0, "wt": "json"},
                         timeout=60, auth=reader(solr))
    reply.raise_for_status()
    return reply.json()["response"]["numFound"]


def test_stop_start_and_a_kill_9_mid_publish_keep_the_alias_and_every_document(solr, history, lake, monkeypatch):
    """`solr stop` + `solr start` keep the serving alias and every document. Then every Solr process is
    killed -9 between indexing a new collection and the alias swap: after a start the alias and every
    document are still those of the serving run, and a republish succeeds."""
    clear(solr)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[1]]) == 0
    serving, documents = alias_target(solr), count(solr)
    assert solr_server.stop(solr)
    assert not solr_server.is_up(solr["url"])
    solr_server.start(solr)
    assert (alias_target(solr), count(solr)) == (serving, documents)

    real_count, killed = publish.Collections.count, []

    def killed_after_indexing(self, collection):   # every Solr process dies between indexing and the swap
        killed.extend(solr_server.kill(solr, part) for part in ("node1", "node2", "zk"))
        return real_count(self, collection)
    monkeypatch.setattr(publish.Collections, "count", killed_after_indexing)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[2]]) == Exit.PUBLISH_FAILED
    monkeypatch.undo()
    assert killed == [True, True, True]
    solr_server.start(solr)
    assert (alias_target(solr), count(solr)) == (serving, documents)
    assert cli.main(["publish", "--lake", str(lake), "--run-id", history.run_ids[2]]) == 0
    assert alias_target(solr) == f"{solr['collection_prefix']}{history.run_ids[2]}"


def test_one_node_down_still_answers_and_a_publish_fails_cleanly(solr, history, lake, capfd, tmp_path):
    """Production's two replicas (conf/base.yaml; the suite's other publishes use one): with either node
    killed the alias still answers every document, and a publish fails before it builds anything."""
    two = tmp_path / "two_replicas.yaml"
    two.write_text("solr:\n  replicas: 2\n")
    clear(solr)   # a run not served now has no collection left: its publish creates one, with two replicas
    run = next(r for r in reversed(history.run_ids) if alias_target(solr) != f"{solr['collection_prefix']}{r}")
    other = next(r for r in history.run_ids if r != run)
    assert cli.main(["publish", "--conf", str(two), "--lake", str(lake), "--run-id", run]) == 0
    serving, documents = alias_target(solr), count(solr)
    assert serving == f"{solr['collection_prefix']}{run}"
    assert len(solr_server.cluster_status(solr)["replicas"][serving]) == 2
    try:
        assert solr_server.kill(solr, "node2")
        assert count(solr) == documents                                   # node 1 answers alone
        assert cli.main(["publish", "--conf", str(two), "--lake", str(lake),
                         "--run-id", other]) == Exit.PUBLISH_FAILED
        assert "1 live node(s), a collection needs 2 replicas" in capfd.readouterr().err
        assert alias_target(solr) == serving
        assert solr_server.kill(solr, "node1") and solr_server.start(solr)   # node 2 back, node 1 restarted
        assert solr_server.kill(solr, "node1")
        second = solr_server.node_url(solr_server.node_ports(solr)[1])
        assert count(solr, second) == documents                           # and node 2 answers alone
    finally:
        solr_server.start(solr)
    assert not solr_server.cluster_status(solr)["down_replicas"]


def test_only_the_writer_may_change_solr(solr, lake):
    assert cli.main(["publish", "--lake", str(lake)]) == 0
    serving = alias_target(solr)
    delete = {"action": "DELETE", "name": serving, "wt": "json"}
    anonymous = requests.get(f"{solr['url']}/admin/collections", params=delete, timeout=60)
    as_reader = requests.get(f"{solr['url']}/admin/collections", params=delete, timeout=60, auth=reader(solr))
    update = requests.post(f"{solr['url']}/{serving}/update", json={"delete": {"query": "*:*"}}, timeout=60,
                           auth=reader(solr), params={"commit": "true"})
    assert (anonymous.status_code, as_reader.status_code, update.status_code) == (401, 403, 403)
    assert requests.get(f"{solr['url']}/{serving}/select", params={"q": "*:*"}, timeout=60).status_code == 401
    assert alias_target(solr) == serving and count(solr) > 0


def test_demand_command_answers_equal_demand_summary_of_the_served_run(spark, solr, lake, capsys):
    import csv
    import io
    import json

    assert cli.main(["publish", "--lake", str(lake)]) == 0
    served = last_run(spark, lake).run_id
    summary = spark.read.format("delta").load(str(lake / n.DEMAND_SUMMARY)).where(F.col(n.RUN_ID) == served)
    one = summary.where((F.col(n.BUCKET) == n.WEEK) & F.col(n.SUPPLIER_ID).isNotNull()).orderBy(n.PART_ID).first()
    capsys.readouterr()
    assert cli.main(["demand", "--plant", one.plant_id, "--part", one.part_id, "--by", "week", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = summary.where((F.col(n.PLANT_ID) == one.plant_id) & (F.col(n.PART_ID) == one.part_id)
                             & (F.col(n.BUCKET) == n.WEEK)).collect()
    assert sorted((g["bucket_start"], g["source"], Decimal(g["quantity"])) for g in got) == sorted(
        (str(r.bucket_start), r.source, r.quantity) for r in expected) and len(got) > 0
    assert {g["run_id"] for g in got} == {served}

    first, last = expected[0].bucket_start.replace(day=1), max(r.bucket_start for r in expected)
    assert cli.main(["demand", "--supplier", one.supplier_id, "--by", "month", "--from", str(first), "--to", str(last),
                     "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    window = summary.where((F.col(n.SUPPLIER_ID) == one.supplier_id) & (F.col(n.BUCKET) == n.MONTH)
                           & F.col(n.BUCKET_START).between(first, last)).collect()
    assert sorted((r["plant_id"], r["part_id"], r["bucket_start"], r["source"], Decimal(r["quantity"])) for r in rows) \
        == sorted((w.plant_id, w.part_id, str(w.bucket_start), w.source, w.quantity) for w in window) and rows

    assert cli.main(["demand", "--part", one.part_id, "--plant", one.plant_id, "--by", "week"]) == 0
    table = capsys.readouterr().out
    assert f"total {one.plant_id} {one.part_id}: {sum(r.quantity for r in expected)}" in table and served in table
    assert cli.main(["demand", "--by", "day"]) == Exit.USER_ERROR   # no filter at all
