"""Errors a user can cause, and `guarded`: each becomes one clear message and an exit code, never a stack trace."""
import sys
from typing import Callable


class BomflowError(Exception):
    """Bad path, bad config or bad data: the message says what to fix."""


class GateFailed(BomflowError):
    """A validation gate failed: the run committed nothing."""


def _one_line(err: BaseException) -> str:
    text = getattr(err, "getMessage", lambda: str(err))() if hasattr(err, "getMessage") else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def guarded(action: Callable[[], object]) -> int:
    """Run `action`; a user-caused error becomes one clear message and exit code 2, never a stack trace."""
    from pyspark.errors import PySparkException
    from transforms.explode import ExplosionError

    try:
        code = action()
        return code if isinstance(code, int) else 0
    except (BomflowError, ExplosionError) as err:
        print(f"bomflow: error: {err}", file=sys.stderr)
        return 2
    except PySparkException as err:
        print(f"bomflow: error: Spark failed: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bomflow: interrupted", file=sys.stderr)
        return 130
