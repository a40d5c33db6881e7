"""Layered YAML configuration: conf/base.yaml + conf/<env>.yaml + --conf FILE, and logging.

base.yaml names every key there is: a key of an overlay that base.yaml does not have is an error
(a typo such as `max_quarantine_pct` would otherwise be ignored and its default used). The maps
under OPEN_MAPS (Spark's own settings) take any key.
"""
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import BomflowError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
ENV_VARIABLE = "BOMFLOW_ENV"
OPEN_MAPS = {("spark", "conf")}


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


def unknown_keys(base: dict, overlay: dict, path: tuple = ()) -> list[str]:
    """Dotted names of overlay keys that base does not define (OPEN_MAPS take any key)."""
    if path in OPEN_MAPS:
        return []
    unknown = []
    for key, value in overlay.items():
        if key not in base:
            unknown.append(".".join((*path, str(key))))
        elif isinstance(value, dict) and isinstance(base[key], dict):
            unknown += unknown_keys(base[key], value, (*path, key))
    return unknown


def environment(env: str | None = None) -> str:
    """The environment a command runs in: `env`, else $BOMFLOW_ENV, else 'local'."""
    return env or os.environ.get(ENV_VARIABLE, "local")


def load(env: str | None = None, extra: str | os.PathLike | None = None) -> dict[str, Any]:
    """base.yaml, then the environment's file (default: environment()), then `extra`."""
    env = environment(env)
    settings = _read(CONF_DIR / "base.yaml")
    env_file = CONF_DIR / f"{env}.yaml"
    if not env_file.exists():
        known = sorted(p.stem for p in CONF_DIR.glob("*.yaml") if p.stem not in ("base", "sample_network"))
        raise BomflowError(f"unknown environment '{env}' (known: {', '.join(known)})")
    for path in (env_file, *([Path(extra)] if extra else [])):
        overlay = _read(path)
        unknown = unknown_keys(settings, overlay)
        if unknown:
            raise BomflowError(f"config {path}: unknown key(s) {', '.join(unknown)} "
                               f"(every key is defined, with its meaning, in {CONF_DIR / 'base.yaml'})")
        settings = _merge(settings, overlay)
    return settings


def fingerprint(settings: dict) -> str:
    """sha256 of the effective configuration (canonical JSON): which settings computed a night."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def configure_logging(settings: dict) -> None:
    logging.basicConfig(level=settings.get("log_level", "INFO"),
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PySpark logs every analysis error with its JVM stack trace; bomflow reports it in one line instead.
    from pyspark.logger import PySparkLogger
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
