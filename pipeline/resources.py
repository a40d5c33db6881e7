"""bomflow's own files and its state folder.

Package data (configuration, GX suites, Catena-X schemas, the Solr configset, the Solr launcher and
the Maven poms) is found with importlib.resources, so it is the same in a checkout, an installed
wheel and a zip shipped to a cluster with --py-files. What a tool outside Python must open as a
file (log4j's settings for the JVM, the launcher and the configset for Solr) is materialised on
disk once per process when the package is not on disk already.

The state folder holds what bomflow fetches or keeps between commands on one machine: the Delta
and Solr jars (`bomflow setup`), the local Solr's cores and ZooKeeper data, its credentials. It is
$BOMFLOW_HOME; else the checkout, when bomflow runs from one (as `make` does); else
$XDG_DATA_HOME/bomflow (~/.local/share/bomflow).
"""
import functools
import os
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

HOME_VARIABLE = "BOMFLOW_HOME"
CHECKOUT = Path(__file__).resolve().parent.parent


def files(package: str, *parts: str) -> Traversable:
    """A packaged file or folder, e.g. files("conf", "base.yaml")."""
    found = resources.files(package)
    for part in parts:
        found = found.joinpath(part)
    return found


def on_disk(package: str, *parts: str) -> Path:
    """A packaged file or folder as a real path (copied to a temporary folder when packaged in a zip)."""
    found = files(package, *parts)
    if isinstance(found, Path):
        return found
    return _extracted(package, parts)


@functools.cache
def _extracted(package: str, parts: tuple[str, ...]) -> Path:
    target = Path(tempfile.mkdtemp(prefix="bomflow-")) / "/".join((package, *parts))
    _copy(files(package, *parts), target)
    return target


def _copy(source: Traversable, target: Path) -> None:
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        for child in source.iterdir():
            _copy(child, target / child.name)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def is_checkout() -> bool:
    """True when the code runs from a source checkout (not an installed package)."""
    return (CHECKOUT / "setup.cfg").is_file() and (CHECKOUT / "conf" / "base.yaml").is_file()


def state_dir() -> Path:
    """Where bomflow keeps its jars and the local Solr (see the module's docstring)."""
    if os.environ.get(HOME_VARIABLE):
        return Path(os.environ[HOME_VARIABLE]).expanduser().resolve()
    if is_checkout():
        return CHECKOUT
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "bomflow"


def is_current(stamp: Path, digest: str) -> bool:
    """True when a stamp file in the state folder records `digest` (what was built or fetched from)."""
    return stamp.is_file() and stamp.read_text().strip() == digest


def state_path(relative: str | os.PathLike) -> Path:
    """A configured path: absolute as given, relative to the state folder otherwise."""
    path = Path(relative).expanduser()
    return path if path.is_absolute() else state_dir() / path
