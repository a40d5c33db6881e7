"""The Airflow DAG: loads in Airflow's DagBag with the expected chain, and one `airflow dags test` night end to end.

Airflow lives in its own environment (.venv-airflow, `make airflow`), as it would on
a scheduler host; these tests drive it through subprocesses.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chispa import assert_df_equality

from adapters import lake as lk
from schemas import names as n
from tests.builders import read_table

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
EXPECTED = {"validate_inputs": {"run"}, "run": {"gate"}, "gate": {"publish", "export_catenax"},
            "publish": set(), "export_catenax": set()}


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    assert AIRFLOW.exists(), "Airflow is not installed: `make airflow` (make test does it)"
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


def test_dagbag_loads_the_nightly_chain(airflow_env):
    probe = ("import json; from airflow.models.dagbag import DagBag; b = DagBag(dag_folder='dags'); "
             "d = b.dags.get('bomflow_nightly'); "
             "print(json.dumps({'errors': {k: str(v) for k, v in b.import_errors.items()}, "
             "'tasks': {t.task_id: sorted(t.downstream_task_ids) for t in d.tasks} if d else None, "
             "'timeouts': {t.task_id: t.execution_timeout.total_seconds() for t in d.tasks} if d else None, "
             "'retries': {t.task_id: t.retries for t in d.tasks} if d else None, "
             "'max_active_runs': d.max_active_runs if d else None}))")
    done = subprocess.run([str(AIRFLOW_PYTHON), "-c", probe], env=airflow_env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert {task: set(down) for task, down in found["tasks"].items()} == EXPECTED
    assert all(seconds > 0 for seconds in found["timeouts"].values())
    assert found["retries"]["run"] >= 1 and found["retries"]["gate"] == 0 and found["max_active_runs"] == 1


def test_one_night_end_to_end_on_a_standalone_cluster(airflow_env, history, spark, solr, standalone_cluster, tmp_path):
    """`airflow dags test` on the sample source: validate, spark-submit to a standalone master and worker
    (127.0.0.1:7077), gate, publish to the test Solr, export. The demand equals the local run's of the
    same source and run date (the shared history lake's first run)."""
    lake, export = tmp_path / "lake", tmp_path / "catenax"
    env = {**airflow_env, "AIRFLOW_VAR_BOMFLOW_SOURCE": str(history.source), "AIRFLOW_VAR_BOMFLOW_LAKE": str(lake),
           "AIRFLOW_VAR_BOMFLOW_EXPORT": str(export), "AIRFLOW_VAR_BOMFLOW_ENV": "test",
           "AIRFLOW_VAR_BOMFLOW_BIN": str(Path(sys.executable).parent / "bomflow"),
           "AIRFLOW_VAR_BOMFLOW_SPARK_SUBMIT": str(Path(sys.executable).parent / "spark-submit"),
           "AIRFLOW_VAR_BOMFLOW_PYTHON": sys.executable, "AIRFLOW_VAR_BOMFLOW_SPARK_MASTER": standalone_cluster,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run([str(AIRFLOW), "dags", "test", "bomflow_nightly", "2026-03-02"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    runs = read_table(spark, lake, n.RUNS).collect()
    assert len(runs) == 1 and runs[0].status == n.SUCCEEDED and str(runs[0].run_date) == "2026-03-02"
    assert runs[0].publish_status == "published"
    assert (export / runs[0].run_id / "manifest.json").is_file()
    local = [r for r in read_table(spark, history.lake, n.RUNS).collect() if r.run_id == history.run_ids[0]][0]
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        on_cluster = read_table(spark, lake, table).drop(n.RUN_ID)
        assert_df_equality(on_cluster, lk.committed_table(spark, str(history.lake), local, table).drop(n.RUN_ID),
                           ignore_row_order=True)
