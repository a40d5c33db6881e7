"""Airflow 3 DAG: the nightly bomflow chain, validate -> run -> gate -> publish -> export.

Airflow runs in its own environment (`make airflow` builds .venv-airflow); the
tasks call the job's own environment through BashOperator: `spark-submit
jobs/nightly_demand.py` for the run (as on a cluster) and the `bomflow` CLI
for the rest. Where things are comes from Airflow Variables (or the matching
AIRFLOW_VAR_* environment variables):

    bomflow_home          the project checkout (default: this file's parent folder)
    bomflow_bin           the bomflow executable (default: <home>/.venv/bin/bomflow)
    bomflow_spark_submit  spark-submit with Delta (default: <home>/.venv/bin/spark-submit)
    bomflow_spark_master  where the run goes: local[2], spark://host:7077, yarn, k8s://… (default: local[2])
    bomflow_python        the job's Python, for the Spark driver and executors (default: <home>/.venv/bin/python)
    bomflow_source        input folder (default: <home>/data/source)
    bomflow_lake          Delta lake (default: <home>/data/lake)
    bomflow_export        Catena-X export folder (default: <home>/data/catenax)
    bomflow_env           conf/<env>.yaml to use (default: local)

The run date is the DAG run's logical date ({{ ds }}). Timeouts stand in for
SLAs (Airflow 3 has no SLA misses): a task that overruns fails and alerts, and
the whole night is bounded by dagrun_timeout. The run and the gate are safe to
retry (a run commits nothing until its gates pass); a failed publish keeps the
previous Solr collection, so a retry is safe too. Retries happen only where they
can help: exit 2 (bad input or configuration) and 3 (a gate failed) fail the
task at once (BomflowCommand below).

Downstream DAGs schedule on data, not on clock time: `run` updates the asset
LAKE_DEMAND (a night committed part_demand and demand_summary), `publish`
SOLR_DEMAND (the Solr alias `demand` moved) and `export_catenax`
CATENAX_DEMAND (new supplier files), e.g. `DAG(schedule=[SOLR_DEMAND], ...)`.
A second DAG, `bomflow_maintain`, runs `bomflow maintain` (OPTIMIZE, VACUUM)
every Sunday; it waits up to an hour for a night that still holds the lake.
Every task of both reports its failure through `on_failure` (one log line with
the DAG, task, try and exit code: where a site hangs its notifier); the page
itself comes from Prometheus (monitoring/bomflow-alerts.yml), fed by bomflow.
"""
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Asset
from airflow.sdk.exceptions import AirflowException, AirflowFailException

HOME = str(Path(__file__).resolve().parent.parent)


def var(name: str, default: str) -> str:
    return "{{ var.value.get('" + name + "', '" + default + "') }}"


BOMFLOW = var("bomflow_bin", f"{HOME}/.venv/bin/bomflow")
SPARK_SUBMIT = var("bomflow_spark_submit", f"{HOME}/.venv/bin/spark-submit")
MASTER = var("bomflow_spark_master", "local[2]")
SOURCE = var("bomflow_source", f"{HOME}/data/source")
LAKE = var("bomflow_lake", f"{HOME}/data/lake")
EXPORT = var("bomflow_export", f"{HOME}/data/catenax")
PYTHON = var("bomflow_python", f"{HOME}/.venv/bin/python")
# The job's own Python for the driver and the executors (spark-submit also finds Spark through it),
# whatever Python runs Airflow.
ENV = {"BOMFLOW_ENV": var("bomflow_env", "local"), "PYSPARK_PYTHON": PYTHON, "PYSPARK_DRIVER_PYTHON": PYTHON}

# bomflow's exit codes (pipeline/errors.py): 2 = user or data error, 3 = a gate failed. A retry cannot
# change either, so such a task fails at once; every other failure (4 publish failed, 5 lake busy,
# 70 internal: Spark, the cluster, the network) keeps the task's retries.
NOT_RETRIED = {2, 3}


# What the tasks produce, for data-aware scheduling of downstream DAGs ("x-" marks a scheme of our own).
LAKE_DEMAND = Asset(name="bomflow_lake_demand", uri="x-bomflow://lake/demand", group="bomflow")
SOLR_DEMAND = Asset(name="bomflow_solr_demand", uri="x-bomflow://solr/demand", group="bomflow")
CATENAX_DEMAND = Asset(name="bomflow_catenax_demand", uri="x-bomflow://catenax/demand", group="bomflow")


def exit_code(error) -> int | None:
    """bomflow's exit code, as BashOperator's failure message gives it ("... exit code N"); None if absent."""
    found = re.search(r"exit code (\d+)", str(error or ""))
    return int(found[1]) if found else None


def on_failure(context) -> None:
    """Failure callback of every task: one line that names what failed (a site's notifier goes here)."""
    ti, code = context["ti"], exit_code(context.get("exception"))
    logging.getLogger("airflow.task").error(
        "bomflow task failed: dag=%s task=%s run=%s try=%s exit=%s",
        ti.dag_id, ti.task_id, ti.run_id, ti.try_number, "?" if code is None else code)


class BomflowCommand(BashOperator):
    """A bomflow command whose exit code decides whether a retry can help."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as err:
            code = exit_code(err)
            if code in NOT_RETRIED:
                raise AirflowFailException(f"{err} bomflow exit {code}: not retried") from err
            raise

with DAG(
    dag_id="bomflow_nightly",
    description="Nightly material demand: validate, explode, gate, publish to Solr, export to suppliers",
    schedule="30 1 * * *",                  # 01:30 every night, after the production data extract
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,                      # two nights must never write the same lake at once
    dagrun_timeout=timedelta(hours=6),
    default_args={"owner": "bomflow", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(hours=1), "on_failure_callback": on_failure},
    tags=["bomflow", "demand"],
) as dag:
    validate = BomflowCommand(
        task_id="validate_inputs", env=ENV, append_env=True, cwd=HOME,
        bash_command=f"{BOMFLOW} validate --source {SOURCE}")
    run = BomflowCommand(
        task_id="run", env=ENV, append_env=True, cwd=HOME, execution_timeout=timedelta(hours=4),
        bash_command=f"{SPARK_SUBMIT} --master {MASTER} jobs/nightly_demand.py --source {SOURCE} --lake {LAKE} --run-date {{{{ ds }}}} --no-publish",
        outlets=[LAKE_DEMAND])
    gate = BomflowCommand(
        task_id="gate", env=ENV, append_env=True, cwd=HOME, retries=0,
        bash_command=f"{BOMFLOW} status --lake {LAKE} --last 3 --check {{{{ ds }}}}")
    publish = BomflowCommand(
        task_id="publish", env=ENV, append_env=True, cwd=HOME, retries=2, retry_delay=timedelta(minutes=2),
        bash_command=f"{BOMFLOW} publish --lake {LAKE}", outlets=[SOLR_DEMAND])
    export = BomflowCommand(
        task_id="export_catenax", env=ENV, append_env=True, cwd=HOME,
        bash_command=f"{BOMFLOW} export catenax --lake {LAKE} --out {EXPORT}", outlets=[CATENAX_DEMAND])

    validate >> run >> gate >> [publish, export]


with DAG(
    dag_id="bomflow_maintain",
    description="Weekly OPTIMIZE (Z-order) and VACUUM of the demand lake",
    schedule="0 4 * * 0",                   # Sundays 04:00, after that night's run
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),
    default_args={"owner": "bomflow", "retries": 1, "retry_delay": timedelta(minutes=15),
                  "execution_timeout": timedelta(hours=3), "on_failure_callback": on_failure},
    tags=["bomflow", "maintenance"],
) as maintain_dag:
    BomflowCommand(   # --wait: a night still running holds the lake's lease; wait for it rather than fail
        task_id="maintain", env=ENV, append_env=True, cwd=HOME,
        bash_command=f"{BOMFLOW} maintain --lake {LAKE} --wait 3600")
