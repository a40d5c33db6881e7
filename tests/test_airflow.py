"""The Airflow DAG: loads in Airflow's DagBag with the expected chain, and `airflow dags test` starts each
task's command in order, with the logical date, and stops at a failed gate.

Airflow lives in its own environment (.venv-airflow, `make airflow`), as it would on
a scheduler host; these tests drive it through subprocesses. The commands themselves are
recorded by a stub here: each is tested for real on its own (a night by spark-submit on a
standalone cluster from the installed wheel: tests/test_package.py).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
             "'outlets': {t.task_id: [a.uri for a in t.outlets] for t in d.tasks} if d else None, "
             "'callbacks': sorted({(g.dag_id, t.task_id, tuple(f.__name__ for f in t.on_failure_callback or ())) "
             "                     for g in b.dags.values() for t in g.tasks}), "
             "'maintain': (lambda m: m and {'schedule': m.schedule, 'tasks': [t.task_id for t in m.tasks], "
             "             'command': m.tasks[0].bash_command, 'max_active_runs': m.max_active_runs})(b.dags.get('bomflow_maintain')), "
             "'max_active_runs': d.max_active_runs if d else None}))")
    done = subprocess.run([str(AIRFLOW_PYTHON), "-c", probe], env=airflow_env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    assert {task: set(down) for task, down in found["tasks"].items()} == EXPECTED
    assert all(seconds > 0 for seconds in found["timeouts"].values())
    assert found["retries"]["run"] >= 1 and found["retries"]["gate"] == 0 and found["max_active_runs"] == 1
    # downstream DAGs schedule on what the night produced
    assert found["outlets"] == {"validate_inputs": [], "run": ["x-bomflow://lake/demand"], "gate": [],
                                "publish": ["x-bomflow://solr/demand"], "export_catenax": ["x-bomflow://catenax/demand"]}
    command = found["maintain"].pop("command")   # a template: its Variables resolve only when the task runs
    assert found["maintain"] == {"schedule": "0 4 * * 0", "tasks": ["maintain"], "max_active_runs": 1}
    assert " maintain --lake " in command and "--wait 3600" in command
    assert found["callbacks"] == sorted([["bomflow_nightly", task, ["on_failure"]] for task in EXPECTED]
                                        + [["bomflow_maintain", "maintain", ["on_failure"]]])


STUB = """#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]],
                          "env": {{k: os.environ.get(k) for k in ("BOMFLOW_ENV", "PYSPARK_PYTHON")}}}}) + "\\n")
sys.exit(int(os.environ.get("STUB_EXIT_" + sys.argv[1].replace("-", "_"), "0")))
"""


def dags_test(airflow_env, tmp_path, dag="bomflow_nightly", **exits):
    """`airflow dags test <dag> 2026-03-02` with bomflow and spark-submit replaced by a stub
    that records its command line and exits 0 (or exits[<first argument>]); returns (rc, calls, log)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    calls = tmp_path / "calls.jsonl"
    for name in ("bomflow", "spark-submit"):
        stub = tmp_path / name
        stub.write_text(STUB.format(python=sys.executable, log=str(calls)))
        stub.chmod(0o755)
    env = {**airflow_env, "AIRFLOW_VAR_BOMFLOW_SOURCE": "/in/source", "AIRFLOW_VAR_BOMFLOW_LAKE": "/in/lake",
           "AIRFLOW_VAR_BOMFLOW_EXPORT": "/out/catenax", "AIRFLOW_VAR_BOMFLOW_ENV": "test",
           "AIRFLOW_VAR_BOMFLOW_BIN": str(tmp_path / "bomflow"),
           "AIRFLOW_VAR_BOMFLOW_SPARK_SUBMIT": str(tmp_path / "spark-submit"),
           "AIRFLOW_VAR_BOMFLOW_PYTHON": "/venv/bin/python", "AIRFLOW_VAR_BOMFLOW_SPARK_MASTER": "spark://m:7077",
           **{f"STUB_EXIT_{k}": str(v) for k, v in exits.items()}}
    done = subprocess.run([str(AIRFLOW), "dags", "test", dag, "2026-03-02"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, [json.loads(line) for line in lines], done.stdout + done.stderr


def test_one_night_runs_each_task_s_command_in_order_with_the_logical_date(airflow_env, tmp_path):
    """The real DAG in a real `airflow dags test`; the commands it starts are recorded, not run (each is
    tested on its own: the night in test_job.py, also by spark-submit on a standalone cluster in
    test_package.py; publish in
    test_solr.py; export in test_catenax.py; status --check in test_operate.py)."""
    rc, calls, log = dags_test(airflow_env, tmp_path)
    assert rc == 0, log[-3000:]
    argv = [c["argv"] for c in calls]
    assert argv[:3] == [
        ["bomflow", "validate", "--source", "/in/source"],
        ["spark-submit", "--master", "spark://m:7077", "jobs/nightly_demand.py", "--source", "/in/source",
         "--lake", "/in/lake", "--run-date", "2026-03-02", "--no-publish"],
        ["bomflow", "status", "--lake", "/in/lake", "--last", "3", "--check", "2026-03-02"]]
    assert sorted(map(tuple, argv[3:])) == [("bomflow", "export", "catenax", "--lake", "/in/lake", "--out", "/out/catenax"),
                                            ("bomflow", "publish", "--lake", "/in/lake")]
    assert all(c["env"] == {"BOMFLOW_ENV": "test", "PYSPARK_PYTHON": "/venv/bin/python"} for c in calls)


def test_a_failed_gate_stops_the_night_before_publish_and_export(airflow_env, tmp_path):
    rc, calls, log = dags_test(airflow_env, tmp_path, status=1)
    assert "DagRun failed" in log, log[-3000:]
    assert [c["argv"][:2] for c in calls] == [["bomflow", "validate"], ["spark-submit", "--master"],
                                              ["bomflow", "status"]], log[-3000:]


def test_weekly_maintain_runs_its_command_and_a_failure_names_what_failed(airflow_env, tmp_path):
    rc, calls, log = dags_test(airflow_env, tmp_path / "ok", dag="bomflow_maintain")
    assert rc == 0 and [c["argv"] for c in calls] == [["bomflow", "maintain", "--lake", "/in/lake", "--wait", "3600"]], \
        log[-3000:]
    rc, calls, log = dags_test(airflow_env, tmp_path / "failing", dag="bomflow_maintain", maintain=2)
    assert "DagRun failed" in log and len(calls) == 1, log[-3000:]   # exit 2: not retried
    assert "bomflow task failed: dag=bomflow_maintain task=maintain" in log and "exit=2" in log, log[-3000:]


def test_only_infrastructure_failures_are_retried(airflow_env):
    """BomflowCommand turns exit 2 (bad input) and 3 (gate failed) into Airflow's no-retry failure;
    publish failed (4), lake busy (5) and internal errors (70) stay ordinary, retried failures."""
    probe = ("import json, sys; sys.path.insert(0, 'dags'); from bomflow_nightly import BomflowCommand\n"
             "from airflow.sdk.exceptions import AirflowFailException\n"
             "out = {}\n"
             "for code in (0, 2, 3, 4, 5, 70):\n"
             "    op = BomflowCommand(task_id=f't{code}', bash_command=f'exit {code}')\n"
             "    try:\n"
             "        op.execute({}); out[code] = 'ok'\n"
             "    except AirflowFailException: out[code] = 'fail'\n"
             "    except Exception: out[code] = 'retry'\n"
             "print(json.dumps(out))")
    done = subprocess.run([str(AIRFLOW_PYTHON), "-c", probe], env=airflow_env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "0": "ok", "2": "fail", "3": "fail", "4": "retry", "5": "retry", "70": "retry"}
