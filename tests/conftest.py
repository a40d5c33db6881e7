"""One SparkSession for the whole suite (conf/test.yaml: local[2], UTC, 2 shuffle partitions, Delta)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["BOMFLOW_ENV"] = "test"


@pytest.fixture(scope="session")
def spark():
    from adapters.session import spark_session
    from pipeline import config

    conf = config.load("test")
    config.configure_logging(conf)
    session = spark_session(conf)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def history(spark, sources, tmp_path_factory):
    """A lake with three runs (run date 2026-03-02): the sample source twice, then a changed source
    without the TOW-HITCH edges and with an invalid supplier BPNL on LABEL-US. Read-only for its users:
    copy the lake before changing it."""
    from tests.builders import History, changed_source
    from jobs import cli

    root = tmp_path_factory.mktemp("history")
    source = sources / "clean"
    changed = changed_source(spark, source, root / "changed")
    lake, run_ids = root / "lake", []
    for src in (source, source, changed):
        assert cli.main(["run", "--source", str(src), "--lake", str(lake), "--no-publish", "--run-date", "2026-03-02"]) == 0
        run_ids.append(spark.read.format("delta").load(str(lake / "runs")).orderBy("started_at").collect()[-1].run_id)
    return History(source, changed, lake, run_ids)


@pytest.fixture(scope="session")
def solr():
    """The test SolrCloud (conf/test.yaml: nodes on 127.0.0.1:8984 and :8994, ZooKeeper :9984), started
    fresh once (the tests count collections), stopped at the end of the session."""
    import shutil
    from adapters import solr_server
    from pipeline import config

    conf = config.load("test")["solr"]
    solr_server.stop(conf)
    shutil.rmtree(solr_server.home(conf), ignore_errors=True)
    solr_server.start(conf)
    yield conf
    solr_server.stop(conf)


@pytest.fixture(scope="session")
def sources(tmp_path_factory):
    """Two sample sources of SAMPLE_ORDERS orders: `clean`, and `bad` (generate --bad: one bad row per reason)."""
    from tests.builders import SAMPLE_ORDERS, generated_source

    root = tmp_path_factory.mktemp("sources")
    for name, extra in (("clean", []), ("bad", ["--bad"])):
        generated_source(root, SAMPLE_ORDERS, *extra).rename(root / name)
    return root


@pytest.fixture(scope="session")
def bad_lake(sources, tmp_path_factory):
    """A fresh lake after one run on the bad source (quarantine rows, model G60 blocked). Read-only."""
    from tests.builders import ran_lake

    return ran_lake(tmp_path_factory.mktemp("bad_lake"), sources / "bad")


@pytest.fixture
def standalone_cluster(tmp_path):
    """A Spark standalone master and one worker on 127.0.0.1, from the venv's own Spark."""
    spark_class = str(Path(sys.executable).parent / "spark-class")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(tmp_path / "logs"),
           "SPARK_WORKER_DIR": str(tmp_path / "work"), "PYSPARK_PYTHON": sys.executable}
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", "7077", "--webui-port", "18080"], env=env,
                              stdout=open(tmp_path / "master.log", "w"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", "spark://127.0.0.1:7077",
                               "--host", "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", "18081"],
                              env=env, stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(120):   # the worker logs its registration with the master
            if "Successfully registered with master" in (tmp_path / "worker.log").read_text():
                break
            time.sleep(0.5)
        else:
            raise AssertionError("standalone worker did not register:\n" + (tmp_path / "worker.log").read_text()[-2000:])
        yield "spark://127.0.0.1:7077"
    finally:
        for process in (worker, master):
            process.terminate()
            process.wait(timeout=30)
