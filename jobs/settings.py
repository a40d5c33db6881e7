"""Layered YAML configuration (conf/base.yaml + conf/<env>.yaml + --conf FILE) and the SparkSession."""
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from jobs.errors import BomflowError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
ENV_VARIABLE = "BOMFLOW_ENV"


def _merge(base: dict, overlay: dict) -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise BomflowError(f"cannot read config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise BomflowError(f"config {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise BomflowError(f"config {path} must be a mapping at the top level")
    return data


def load(env: str | None = None, extra: str | os.PathLike | None = None) -> dict[str, Any]:
    """base.yaml, then the environment's file (default: $BOMFLOW_ENV or 'local'), then `extra`."""
    env = env or os.environ.get(ENV_VARIABLE, "local")
    settings = _read(CONF_DIR / "base.yaml")
    env_file = CONF_DIR / f"{env}.yaml"
    if not env_file.exists():
        known = sorted(p.stem for p in CONF_DIR.glob("*.yaml") if p.stem != "base")
        raise BomflowError(f"unknown environment '{env}' (known: {', '.join(known)})")
    settings = _merge(settings, _read(env_file))
    if extra:
        settings = _merge(settings, _read(Path(extra)))
    return settings


def configure_logging(settings: dict) -> None:
    logging.basicConfig(level=settings.get("log_level", "INFO"),
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PySpark logs every analysis error with its JVM stack trace; bomflow reports it in one line instead.
    from pyspark.logger import PySparkLogger
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def spark_session(settings: dict):
    """The session for `settings`; under spark-submit the submitted master and conf win."""
    from pyspark.sql import SparkSession

    spark_conf = settings.get("spark", {})
    builder = SparkSession.builder.appName(settings.get("app_name", "bomflow"))
    if not _under_spark_submit():
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # bind the driver to loopback only
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers use this venv too
        builder = builder.master(spark_conf.get("master", "local[2]"))
    log4j = CONF_DIR / "log4j2.properties"
    builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j.as_uri()}")
    for key, value in spark_conf.get("conf", {}).items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _under_spark_submit() -> bool:
    """True when spark-submit started this Python process (its JVM hands us the gateway port)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
