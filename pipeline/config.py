"""Layered YAML configuration: conf/base.yaml + conf/<env>.yaml + --conf FILE, and logging."""
import logging
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import BomflowError

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
