"""One SparkSession for the whole suite (conf/test.yaml: local[2], UTC, 2 shuffle partitions, Delta)."""
import os

import pytest

os.environ["BOMFLOW_ENV"] = "test"


@pytest.fixture(scope="session")
def spark():
    from jobs import settings

    conf = settings.load("test")
    settings.configure_logging(conf)
    session = settings.spark_session(conf)
    yield session
    session.stop()
