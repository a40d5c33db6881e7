"""`bomflow validate --source DIR [--docs DIR]`: the input gate alone, without exploding or writing demand."""
import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from jobs import lake as lk
from jobs import settings as st
from jobs.gates import Gates
from jobs.nightly_demand import GateFailed, RunReport, count_quarantine, input_gate, new_run_id, reconcile
from transforms.engine import screen


def execute(args: argparse.Namespace) -> None:
    settings = st.load(args.env, args.conf)
    st.configure_logging(settings)
    spark = st.spark_session(settings)
    now = datetime.now(timezone.utc)
    report = RunReport(run_id=new_run_id(now), run_date=now.date(), source=args.source, lake="", started_at=now)
    tables = lk.read_source(spark, args.source)
    screened = screen(tables, int(settings["engine"]["max_rule_terms"]))
    count_quarantine(screened.problems, report)
    report.reconciliation = reconcile(tables, screened, report)
    docs = Path(args.docs) if args.docs else Path(tempfile.mkdtemp(prefix="bomflow-validate-"))
    gates = Gates(docs / report.run_id)
    gate = input_gate(gates, tables, screened, report, float(settings["gates"]["max_quarantined_pct"]))
    print(f"input gate on {args.source}: {'passed' if gate.passed else 'FAILED'} ({gate.checks} checks)")
    for table, c in report.reconciliation.items():
        reasons = ", ".join(f"{r} {k}" for r, k in sorted(report.quarantine_by_reason.get(table, {}).items()))
        print(f"  {table:<18} read {c['read']:>9,}  used {c['used']:>9,}  quarantined {c['quarantined']:>7,}"
              + (f"  ({reasons})" if reasons else ""))
    for model, cause in sorted(screened.blocked.items()):
        print(f"  WARNING: BLOCKED {cause}")
    print(f"  validation docs: {gates.docs_index()}")
    if not gate.passed:
        raise GateFailed("input gate failed:\n  " + "\n  ".join(gate.failures))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="folder with one sub-folder per input table")
    parser.add_argument("--docs", help="folder for the GX Data Docs (default: a new temporary folder)")
    parser.add_argument("--conf", help="extra YAML laid over conf/")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
