"""bomflow outside its checkout: layered operator configuration, package data from a zip (--py-files),
and the built wheel installed into a fresh virtualenv, driving a night on a standalone cluster."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chispa import assert_df_equality

from adapters import lake as lk
from pipeline import config
from pipeline.errors import BomflowError
from pipeline.gates import load_suites
from schemas import names as n
from tests.builders import RUN_DATE, SHORT_LIVED_JVM, read_table

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jobs", "pipeline", "adapters", "transforms", "schemas", "conf")


def test_an_operator_conf_dir_lays_its_yaml_over_the_packaged_conf(tmp_path, monkeypatch):
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "base.yaml").write_text("gates:\n  max_quarantined_pct: 7\n")
    (mine / "test.yaml").write_text("engine:\n  max_depth: 11\n")
    (mine / "prod.yaml").write_text("solr:\n  port: 9000\n")
    monkeypatch.setenv(config.CONF_DIR_VARIABLE, str(mine))
    packaged_test = config._read(config.CONF_DIR / "test.yaml")
    test = config.load("test")
    assert (test["gates"]["max_quarantined_pct"], test["engine"]["max_depth"]) == (7, 11)
    assert test["solr"]["port"] == packaged_test["solr"]["port"]          # the packaged test.yaml still applies
    prod = config.load("prod")                                            # an environment of the operator's own
    assert (prod["solr"]["port"], prod["gates"]["max_quarantined_pct"]) == (9000, 7)
    assert "prod" in config.environments() and "test" in config.environments()
    (mine / "prod.yaml").write_text("solr:\n  prot: 9000\n")
    with pytest.raises(BomflowError, match=r"prod.yaml: unknown key\(s\) solr.prot"):
        config.load("prod")
    with pytest.raises(BomflowError, match=r"unknown environment 'nope' \(known: cluster, local, prod, test\)"):
        config.load("nope")
    monkeypatch.setenv(config.CONF_DIR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(BomflowError, match="is not a folder"):
        config.load("test")


def test_package_data_is_read_from_a_zip_as_spark_ships_py_files(tmp_path):
    """Every package zipped as `spark-submit --py-files` ships it: the configuration, the GX suites, the
    Catena-X schemas and log4j's file (materialised on disk for the JVM) are found from the zip."""
    archive = tmp_path / "bomflow.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for package in PACKAGES:
            for path in (ROOT / package).rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    z.write(path, path.relative_to(ROOT))
    probe = ("import json, pipeline.config as c, pipeline.gates as g, pipeline.export as e, pipeline.resources as r\n"
             "log4j = r.on_disk('conf', 'log4j2.properties')\n"
             "print(json.dumps({'module': c.__file__, 'port': c.load('test')['solr']['port'],"
             " 'suites': sorted(g.load_suites('input')), 'schema': bool(e.schema_validator('WeekBasedMaterialDemand')),"
             " 'log4j': str(log4j), 'log4j_is_file': log4j.is_file(),"
             " 'log4j_same': log4j.read_text() == r.files('conf', 'log4j2.properties').read_text()}))")
    env = {**os.environ, "PYTHONPATH": str(archive)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["module"].startswith(str(archive)), found        # from the zip, not the checkout
    assert found["port"] == config.load("test")["solr"]["port"]
    assert found["suites"] == sorted(load_suites("input")) and found["schema"]
    assert found["log4j_is_file"] and found["log4j_same"] and not found["log4j"].startswith(str(ROOT))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed without dependencies into a fresh virtualenv whose
    third-party packages are this venv's (a .pth line: pyspark alone is 400 MB). bomflow itself comes only
    from the wheel: the venv's editable install is not activated there, and every command runs elsewhere."""
    root = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "-w", str(root / "dist"), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("bomflow-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    fresh = root / "venv" / "bin" / "python"
    site = subprocess.run([str(fresh), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(ours + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(fresh), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    return root, fresh, Path(site), wheel


def test_the_wheel_holds_every_resource_and_its_commands_run_outside_the_checkout(installed):
    root, fresh, site, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    for resource in ("conf/base.yaml", "conf/test.yaml", "conf/sample_network.yaml", "conf/log4j2.properties",
                     "schemas/gx/input.json", "schemas/gx/output.json", "schemas/catenax/WeekBasedMaterialDemand-schema.json",
                     "schemas/solr/conf/schema.xml", "schemas/solr/locks/schema.xml", "adapters/jvm/SolrLauncher.java", "adapters/jvm/delta-pom.xml"):
        assert resource in names, resource
    env = {**os.environ, "BOMFLOW_HOME": str(root / "home"), "BOMFLOW_ENV": "test"}
    bomflow = str(fresh.parent / "bomflow")
    where = subprocess.run([str(fresh), "-c", "import pipeline; print(pipeline.__file__)"], cwd=root, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site)), where
    shown = subprocess.run([bomflow, "config", "show"], cwd=root, env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "config_sha256:" in shown.stdout and str(site / "conf" / "test.yaml") in shown.stdout
    setup = subprocess.run([bomflow, "setup", "--no-solr"], cwd=root, env=env, capture_output=True, text=True,
                           timeout=600)
    assert setup.returncode == 0, setup.stderr[-2000:]
    assert any((root / "home" / ".jars").glob("delta-spark_*.jar")) and "Delta on Spark's classpath" in setup.stdout


def test_a_night_from_the_wheel_on_a_standalone_cluster_equals_local_mode(spark, installed, sources, clean_lake,
                                                                          standalone_cluster, tmp_path):
    """spark-submit of the installed jobs/nightly_demand.py to a standalone master and two workers
    (127.0.0.1:7077), as the Airflow DAG's run task starts it, with the wheel's Python on the driver and
    the executors: the demand equals the local run's, and the runs row names the wheel's version."""
    root, fresh, site, _ = installed
    lake = tmp_path / "lake"
    env = {**os.environ, **SHORT_LIVED_JVM, "BOMFLOW_HOME": str(root / "home"), "BOMFLOW_ENV": "test",
           "PYSPARK_PYTHON": str(fresh), "PYSPARK_DRIVER_PYTHON": str(fresh), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop(config.CONF_DIR_VARIABLE, None)
    done = subprocess.run([str(Path(sys.executable).parent / "spark-submit"), "--master", standalone_cluster.url,
                           str(site / "jobs" / "nightly_demand.py"), "--source", str(sources / "clean"),
                           "--lake", str(lake), "--run-date", RUN_DATE, "--no-publish"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert all(any(work.glob("app-*")) for work in standalone_cluster.work_dirs)   # both workers ran executors
    (run,) = read_table(spark, lake, n.RUNS).collect()
    assert run.status == n.SUCCEEDED and str(run.run_date) == RUN_DATE
    assert run.git_revision is None and run.bomflow_version == installed_version(fresh)   # the wheel, no checkout
    local = read_table(spark, clean_lake, n.RUNS).first()
    assert run.config_sha256 == local.config_sha256
    for table in (n.PART_DEMAND, n.DEMAND_SUMMARY):
        on_cluster = read_table(spark, lake, table).drop(n.RUN_ID)
        assert_df_equality(on_cluster, lk.committed_table(spark, str(clean_lake), local, table).drop(n.RUN_ID),
                           ignore_row_order=True)


def installed_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "from importlib import metadata; print(metadata.version('bomflow'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
