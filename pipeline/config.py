"""Layered YAML configuration. The layers, each over the one before:

    conf/base.yaml                   packaged: every key there is, with its meaning
    $BOMFLOW_CONF_DIR/base.yaml      an operator's site-wide settings (optional)
    conf/<env>.yaml                  packaged environment (local, test, cluster), if there is one
    $BOMFLOW_CONF_DIR/<env>.yaml     an operator's environment or overrides of a packaged one
    --conf FILE                      one command's overlay

The packaged files are package data (they travel in the wheel). An environment must exist in
at least one of the two folders. base.yaml names every key there is: a key of an overlay that base.yaml does not have is an error
(a typo such as `max_quarantine_pct` would otherwise be ignored and its default used). The maps
under OPEN_MAPS (Spark's own settings) take any key.
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import BomflowError
from pipeline.resources import files

CONF_DIR = files("conf")
ENV_VARIABLE = "BOMFLOW_ENV"
CONF_DIR_VARIABLE = "BOMFLOW_CONF_DIR"   # an operator's folder of YAML laid over the packaged conf/
NOT_ENVIRONMENTS = ("base", "sample_network")
OPEN_MAPS = {("spark", "conf")}


def _merge(base: dict, overlay: dict) -> dict:
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _read(path) -> dict:
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


def operator_dir() -> Path | None:
    """$BOMFLOW_CONF_DIR, which must be a folder when set."""
    value = os.environ.get(CONF_DIR_VARIABLE)
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise BomflowError(f"{CONF_DIR_VARIABLE}={value} is not a folder")
    return folder


def layers(env: str) -> list:
    """The files laid over base.yaml for `env`, in order (see the module's docstring)."""
    mine = operator_dir()
    found = [*([mine / "base.yaml"] if mine and (mine / "base.yaml").is_file() else []),
             *[folder / f"{env}.yaml" for folder in (CONF_DIR, mine)
               if folder is not None and folder.joinpath(f"{env}.yaml").is_file()]]
    if not any(Path(f.name).stem == env for f in found):
        raise BomflowError(f"unknown environment '{env}' (known: {', '.join(environments())})")
    return found


def environments() -> list[str]:
    """Every environment a file exists for, packaged or the operator's."""
    names = {Path(f.name).stem for f in CONF_DIR.iterdir() if f.name.endswith(".yaml")}
    mine = operator_dir()
    if mine:
        names |= {p.stem for p in mine.glob("*.yaml")}
    return sorted(names - set(NOT_ENVIRONMENTS))


def load(env: str | None = None, extra: str | os.PathLike | None = None) -> dict[str, Any]:
    """base.yaml, then the operator's base, the environment's files (default: environment()), then `extra`."""
    env = environment(env)
    settings = _read(CONF_DIR / "base.yaml")
    for path in (*layers(env), *([Path(extra)] if extra else [])):
        overlay = _read(path)
        unknown = unknown_keys(settings, overlay)
        if unknown:
            raise BomflowError(f"config {path}: unknown key(s) {', '.join(unknown)} "
                               f"(every key is defined, with its meaning, in bomflow's conf/base.yaml)")
        settings = _merge(settings, overlay)
    return settings


def fingerprint(settings: dict) -> str:
    """sha256 of the effective configuration (canonical JSON): which settings computed a night."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
