"""`bomflow validate --source DIR [--docs DIR]`: the night's read, validate and input gate, nothing written."""
import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import SparkSession

from pipeline.errors import GateFailed
from pipeline.gates import Suites
from pipeline.night import Request, add_log_level, check_input, read, validate
from pipeline.record import new_run_id


def validate_source(spark: SparkSession, settings: dict, source: str, docs: str | None) -> list[str]:
    """The input gate's verdict on `source`, as lines; GateFailed (after the lines are printed) when it fails."""
    screened = validate(read(spark, Request(source, lake="")), settings["engine"])
    root = Path(docs) if docs else Path(tempfile.mkdtemp(prefix="bomflow-validate-"))
    suites = Suites(root / new_run_id(datetime.now(timezone.utc)))
    gate = check_input(suites, screened, settings["gates"])
    lines = [f"input gate on {source}: {'passed' if gate.passed else 'FAILED'} ({gate.checks} checks)"]
    for table, c in screened.reconciliation.items():
        reasons = ", ".join(f"{r} {k}" for r, k in sorted(screened.quarantine_by_reason.get(table, {}).items()))
        lines.append(f"  {table:<18} read {c['read']:>9,}  used {c['used']:>9,}  quarantined {c['quarantined']:>7,}"
                     + (f"  ({reasons})" if reasons else ""))
    lines += [f"  WARNING: BLOCKED {cause}" for _, cause in sorted(screened.blocked.items())]
    lines.append(f"  validation docs: {suites.finish()}")
    if not gate.passed:
        print("\n".join(lines))
        raise GateFailed("input gate failed:\n  " + "\n  ".join(gate.failures))
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder with one sub-folder per input table")
    parser.add_argument("--docs", help="folder for the GX Data Docs (default: a new temporary folder)")
    parser.add_argument("--conf", help="extra YAML laid over conf/")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
    add_log_level(parser)
