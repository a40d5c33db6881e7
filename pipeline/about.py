"""Which code computed a night: the installed bomflow version and, from a checkout, its git revision."""
import functools
import os
import subprocess
from importlib import metadata
from pathlib import Path

REVISION_VARIABLE = "BOMFLOW_GIT_REVISION"   # set by a build that ships no .git (a wheel, an archive)


@functools.cache
def version() -> str:
    try:
        return metadata.version("bomflow")
    except metadata.PackageNotFoundError:   # run from a checkout that was never installed
        return "0+unknown"


@functools.cache
def git_revision() -> str | None:
    """The commit of the checkout this code runs from (with "+dirty" for uncommitted changes), else
    $BOMFLOW_GIT_REVISION, else None."""
    if os.environ.get(REVISION_VARIABLE):
        return os.environ[REVISION_VARIABLE]
    here = Path(__file__).resolve().parent.parent
    if not (here / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def describe() -> str:
    """`bomflow --version`: "bomflow 0.2.0 (git 1a2b3c4d5e6f)", the revision only when known."""
    revision = git_revision()
    if not revision:
        return f"bomflow {version()}"
    short = revision.split("+")[0][:12] + ("+dirty" if revision.endswith("+dirty") else "")
    return f"bomflow {version()} (git {short})"
