"""Errors a user can cause, and `guarded`: each becomes one clear message and an exit code, never a stack trace.

Exit codes (documented in docs/cli.md; the Airflow DAG retries only the infrastructure ones):

    0   success
    1   differences found (`diff`), or `status --check` says the night is not good
    2   user or data error: a bad path, configuration or source; fix it, a retry cannot help
    3   a gate failed: the night committed nothing, readers keep the previous run
    4   publish failed: the lake is committed, the Solr alias still serves the previous run
    5   the lake is busy: another command holds its lease (retry later, or pass --wait)
    70  internal error: Spark or bomflow failed unexpectedly (EX_SOFTWARE); retry, then report
    130 interrupted
"""
import sys
from enum import IntEnum
from typing import Callable


class Exit(IntEnum):
    OK = 0
    DIFFERENCES = 1
    USER_ERROR = 2
    GATE_FAILED = 3
    PUBLISH_FAILED = 4
    LAKE_BUSY = 5
    INTERNAL = 70
    INTERRUPTED = 130


class BomflowError(Exception):
    """Bad path, bad config or bad data: the message says what to fix."""
    exit_code = Exit.USER_ERROR


class GateFailed(BomflowError):
    """A validation gate failed: the run committed nothing."""
    exit_code = Exit.GATE_FAILED


def _one_line(err: BaseException) -> str:
    text = getattr(err, "getMessage", lambda: str(err))() if hasattr(err, "getMessage") else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def guarded(action: Callable[[], object]) -> int:
    """Run `action`; an error becomes one clear message and its exit code (above), never a stack trace."""
    from pyspark.errors import PySparkException
    from transforms.explode import ExplosionError

    try:
        code = action()
        return code if isinstance(code, int) else 0
    except BomflowError as err:
        print(f"bomflow: error: {err}", file=sys.stderr)
        return int(err.exit_code)
    except ExplosionError as err:
        print(f"bomflow: error: {err}", file=sys.stderr)
        return int(Exit.USER_ERROR)
    except PySparkException as err:
        print(f"bomflow: error: Spark failed: {_one_line(err)}", file=sys.stderr)
        return int(Exit.INTERNAL)
    except KeyboardInterrupt:
        print("bomflow: interrupted", file=sys.stderr)
        return int(Exit.INTERRUPTED)
