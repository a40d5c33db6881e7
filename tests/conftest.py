"""One SparkSession for the whole suite (conf/test.yaml: local[2], UTC, 1 shuffle partition, Delta)."""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.builders import SHORT_LIVED_JVM

os.environ["BOMFLOW_ENV"] = "test"

# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadfile`), each with its own
# SparkSession. The shared read-only inputs (the sample sources, the clean, bad and history lakes) are
# built once per test run by whichever worker needs them first (`built_once`); every file is a unit of
# its own, sent whole to one worker (its module fixtures are built once), except the tests of the test
# Solr and of the standalone cluster, which listen on fixed ports and so form one unit each. Heavy units
# are handed out first, so that no long unit starts last. xdist's own `loadgroup` does not work with
# pytest 9 (the group suffix it writes to `item._nodeid` never reaches `item.nodeid`), hence the scheduler
# below.
UNITS = (   # (node id prefix, unit): the first match wins; a test matching none is a unit with its file
    *((f"tests/test_{name}.py", "solr") for name in ("solr", "ui")),
    ("tests/test_package.py", "cluster"),
)
NEEDS = {"solr": {"solr"}, "cluster": {"standalone_cluster", "installed"}}
# The longest units first. xdist deals the first four as worker 1: 1st and 3rd, worker 2: 2nd and 4th, so
# while the Solr unit builds the shared lakes (it needs the history lake), the other worker runs units
# that need none of them instead of waiting for the lock.
FIRST = ("solr", "tests/test_commit_points.py", "tests/test_reference_property.py", "tests/test_explosion_cases.py",
         "cluster", "tests/test_hdfs.py", "tests/test_quarantine_gates.py", "tests/test_operate.py", "tests/test_peg.py", "tests/test_plan.py")


def unit_of(nodeid: str) -> str:
    return next((unit for prefix, unit in UNITS if nodeid.startswith(prefix)), nodeid.split("::")[0])


def pytest_collection_modifyitems(config, items):
    """A test that uses a unit's fixture outside that unit would start a second Solr or cluster on the same
    ports: refused at collection, with or without xdist. The longest units are moved to the front."""
    for item in items:
        for unit, fixtures in NEEDS.items():
            used = fixtures & set(item.fixturenames)
            if used and unit_of(item.nodeid) != unit:
                raise pytest.UsageError(f"{item.nodeid} uses {', '.join(sorted(used))}: add it to the "
                                        f"'{unit}' unit in tests/conftest.py UNITS")
    rank = {unit: i for i, unit in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(unit_of(item.nodeid), len(FIRST)))   # stable: file order kept


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the units above in place of files (xdist asks this hook first)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)


def built_once(tmp_path_factory, worker_id: str, name: str, build):
    """A read-only fixture built once per test run: the first worker that needs it builds it into a folder
    all workers see, under a file lock, and records build's JSON answer; the others wait for the lock and
    take that answer. A failed build records nothing (the next worker tries again and fails the same way).
    Without xdist it is simply built."""
    if worker_id == "master":
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / "shared"
    shared.mkdir(exist_ok=True)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes
        answer = shared / f"{name}.json"
        if answer.exists():
            return json.loads(answer.read_text())
        folder = shared / name
        shutil.rmtree(folder, ignore_errors=True)   # what a failed build left
        folder.mkdir()
        value = build(folder)
        answer.write_text(json.dumps(value))
        return value


@pytest.fixture(scope="session")
def spark():
    from adapters.session import spark_session
    from pipeline import config, logs

    conf = config.load("test")
    logs.configure(conf)
    session = spark_session(conf)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sources(tmp_path_factory, worker_id):
    """Two sample sources of SAMPLE_ORDERS orders: `clean`, and `bad` (generate --bad: one bad row per reason)."""
    from tests.builders import SAMPLE_ORDERS, generated_source

    def build(root):
        for name, extra in (("clean", []), ("bad", ["--bad"])):
            generated_source(root, SAMPLE_ORDERS, *extra).rename(root / name)
        return str(root)

    return Path(built_once(tmp_path_factory, worker_id, "sources", build))


@pytest.fixture(scope="session")
def clean_lake(sources, tmp_path_factory, worker_id):
    """A lake after one run on the clean sample source (run date 2026-03-02, no publish). Read-only:
    copy it before changing it. The first run of `history`, and the good state of the fault tests."""
    from tests.builders import RUN_DATE, ran_lake

    def build(root):
        return str(ran_lake(root, sources / "clean", "--no-publish", "--run-date", RUN_DATE))

    return Path(built_once(tmp_path_factory, worker_id, "clean_lake", build))


@pytest.fixture(scope="session")
def history(spark, sources, clean_lake, tmp_path_factory, worker_id):
    """A lake with three runs (run date 2026-03-02): the sample source twice (the first is clean_lake's
    run), then a changed source without the TOW-HITCH edges and with an invalid supplier BPNL on
    LABEL-US. Read-only for its users: copy the lake before changing it."""
    from tests.builders import RUN_DATE, History, changed_source
    from jobs import cli

    def build(root):
        source = sources / "clean"
        changed = changed_source(spark, source, root / "changed")
        lake = root / "lake"
        shutil.copytree(clean_lake, lake)
        for src in (source, changed):
            assert cli.main(["run", "--source", str(src), "--lake", str(lake), "--no-publish",
                             "--run-date", RUN_DATE]) == 0
        run_ids = [r.run_id for r in spark.read.format("delta").load(str(lake / "runs")).orderBy("started_at").collect()]
        assert len(run_ids) == 3
        return {"source": str(source), "changed": str(changed), "lake": str(lake), "run_ids": run_ids}

    built = built_once(tmp_path_factory, worker_id, "history", build)
    return History(Path(built["source"]), Path(built["changed"]), Path(built["lake"]), built["run_ids"])


@pytest.fixture(scope="session")
def solr():
    """The test SolrCloud (conf/test.yaml: nodes on 127.0.0.1:8984 and :8994, ZooKeeper :9984), started
    fresh once (the tests count collections), stopped at the end of the session."""
    from adapters import solr_server
    from pipeline import config

    conf = config.load("test")["solr"]
    solr_server.stop(conf)
    shutil.rmtree(solr_server.home(conf), ignore_errors=True)
    solr_server.start(conf)
    yield conf
    solr_server.stop(conf)


@pytest.fixture(scope="session")
def bad_lake(sources, tmp_path_factory, worker_id):
    """A fresh lake after one run on the bad source (quarantine rows, model G60 blocked). Read-only."""
    from tests.builders import ran_lake

    return Path(built_once(tmp_path_factory, worker_id, "bad_lake", lambda root: str(ran_lake(root, sources / "bad"))))


@pytest.fixture
def standalone_cluster(tmp_path):
    """A Spark standalone master and two workers (one core each) on 127.0.0.1, from the venv's own Spark:
    (url, work_dirs), a worker's work dir holding one app-* folder per application it ran executors for."""
    spark_class = str(Path(sys.executable).parent / "spark-class")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(tmp_path / "logs"),
           "PYSPARK_PYTHON": sys.executable, **SHORT_LIVED_JVM}   # the executors inherit it
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", "7077", "--webui-port", "18080"], env=env,
                              stdout=open(tmp_path / "master.log", "w"), stderr=subprocess.STDOUT)
    workers = [subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", "spark://127.0.0.1:7077",
                                 "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                                 "--webui-port", str(18081 + i), "--work-dir", str(tmp_path / f"work{i}")],
                                env=env, stdout=open(tmp_path / f"worker{i}.log", "w"), stderr=subprocess.STDOUT)
               for i in range(2)]
    try:
        for i in range(2):
            for _ in range(120):   # each worker logs its registration with the master
                if "Successfully registered with master" in (tmp_path / f"worker{i}.log").read_text():
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(f"standalone worker {i} did not register:\n"
                                     + (tmp_path / f"worker{i}.log").read_text()[-2000:])
        yield SimpleNamespace(url="spark://127.0.0.1:7077", work_dirs=[tmp_path / f"work{i}" for i in range(2)])
    finally:
        for process in (*workers, master):
            process.terminate()
            process.wait(timeout=30)
