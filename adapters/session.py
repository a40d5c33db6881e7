"""The SparkSession for a configuration: local by default, or whatever spark-submit handed us."""
import os
import sys
from contextlib import contextmanager

from pipeline.resources import on_disk


def spark_session(settings: dict):
    """The session for `settings`; under spark-submit the submitted master and conf win."""
    from pyspark.sql import SparkSession

    spark_conf = settings.get("spark", {})
    builder = SparkSession.builder.appName(settings.get("app_name", "bomflow"))
    if not under_spark_submit():
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # bind the driver to loopback only
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python workers use this venv too
        builder = builder.master(spark_conf.get("master", "local[2]"))
    log4j = on_disk("conf", "log4j2.properties")
    for key, value in spark_conf.get("conf", {}).items():
        builder = builder.config(key, str(value))
    java = str(spark_conf.get("conf", {}).get("spark.driver.extraJavaOptions", ""))   # conf's own flags kept
    builder = builder.config("spark.driver.extraJavaOptions",
                             f"-Dlog4j2.configurationFile={log4j.as_uri()} {java}".strip())
    event_log = str(spark_conf.get("conf", {}).get("spark.eventLog.dir", ""))
    if event_log.startswith("file:") or event_log.startswith("/"):
        os.makedirs(event_log.removeprefix("file://").removeprefix("file:"), exist_ok=True)   # Spark wants it to exist
    return builder.getOrCreate()   # log levels: conf/log4j2.properties (Spark's warnings are shown)


def under_spark_submit() -> bool:
    """True when spark-submit started this Python process (its JVM hands us the gateway port)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextmanager
def leased(settings: dict, lake: str, command: str, wait_seconds: float | None = 0):
    """The lake's lease for `command` (adapters/lease.py), then the session, yielded. A local lake's
    lease is taken before Spark starts, so a busy lake is refused at once; a lake on a Hadoop
    filesystem (hdfs://, s3a://) is reached through Spark's JVM, so there the session comes first."""
    from adapters import lease, storage

    spark = None if storage.is_local(lake) else spark_session(settings)
    with lease.held(lake, command, wait_seconds, settings.get("lease"), spark):
        yield spark or spark_session(settings)
