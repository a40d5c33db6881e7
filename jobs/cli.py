"""The `bomflow` command line.

    bomflow generate --out DIR [--orders N] [--seed S] [--start-date D] [--days N]
    bomflow run --source DIR --lake DIR [--conf FILE] [--env ENV] [--run-date D]
    bomflow validate --source DIR [--docs DIR] [--conf FILE] [--env ENV]
    bomflow publish --lake DIR [--run-id ID] [--solr URL]
    bomflow rollback [--to RUN_ID] [--solr URL]
    bomflow solr start|stop|status
    bomflow export catenax --lake DIR --out DIR [--customer-bpnl BPNL] [--run-id ID]
    bomflow status --lake DIR [--last N]
    bomflow diff --lake DIR [--from RUN] [--to RUN] [--against OTHER_LAKE] [--threshold-pct P] [--by part|week]
    bomflow restore --lake DIR --run RUN
    bomflow maintain --lake DIR
    bomflow explain --source DIR --plant P --model M --date D --options A,B [--part X]
    bomflow where-used --source DIR --part X
"""
import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Callable

from jobs.errors import BomflowError


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


def _generate(args: argparse.Namespace) -> None:
    from jobs import generate, settings

    conf = settings.load(args.env, args.conf)
    settings.configure_logging(conf)
    spark = settings.spark_session(conf)
    opts = generate.Options(out=args.out, orders=args.orders, seed=args.seed, start_date=args.start_date,
                            days=args.days, network=args.network, bad=args.bad)
    counts = generate.generate(spark, opts)
    width = max(map(len, counts))
    print(f"wrote sample source to {Path(args.out).resolve()}")
    for table, rows in counts.items():
        print(f"  {table:<{width}}  {rows:>10,} rows")


def _run(args: argparse.Namespace) -> None:
    from jobs import nightly_demand, settings

    report = nightly_demand.execute(args)
    conf = settings.load(args.env, args.conf)
    if conf["solr"].get("publish_on_run") and not args.no_publish:
        _publish_and_record(conf, args.lake, report.run_id, None)


def _publish_and_record(conf: dict, lake: str, run_id: str | None, url: str | None) -> None:
    from jobs import publish, settings

    spark = settings.spark_session(conf)
    try:
        done = publish.publish(spark, conf["solr"], lake, run_id, url)
    except publish.PublishError as err:
        if err.run_id or run_id:
            publish.record_publish(spark, lake, err.run_id or run_id, "failed", None)
        raise
    publish.record_publish(spark, lake, done.run_id, "published", done.collection)
    print(f"published run {done.run_id}: {done.documents:,} documents in {done.collection}; "
          f"alias {conf['solr']['alias']} -> {done.collection} (was {done.previous or 'none'})")


def _settings(args: argparse.Namespace) -> dict:
    from jobs import settings

    conf = settings.load(args.env, args.conf)
    settings.configure_logging(conf)
    return conf


def _publish(args: argparse.Namespace) -> None:
    _publish_and_record(_settings(args), args.lake, args.run_id, args.solr)


def _rollback(args: argparse.Namespace) -> None:
    from jobs import publish

    conf = _settings(args)["solr"]
    before, after = publish.rollback(conf, args.to, args.solr)
    print(f"alias {conf['alias']}: {before or 'none'} -> {after}")


def _solr(args: argparse.Namespace) -> None:
    from jobs import publish, solr_server

    conf = _settings(args)["solr"]
    if args.solr_command == "start":
        print(f"solr: up at {solr_server.start(conf)}")
    elif args.solr_command == "stop":
        print("solr: stopped" if solr_server.stop(conf) else "solr: was not running (no pid file)")
    else:
        print("\n".join(publish.status_lines(conf)))


def _export(args: argparse.Namespace) -> None:
    from jobs import export_catenax, settings

    conf = _settings(args)
    report = export_catenax.export(settings.spark_session(conf), conf, args.lake, args.out, args.customer_bpnl,
                                   args.run_id)
    print("\n".join(export_catenax.summary_lines(report)))


def _spark(args: argparse.Namespace):
    from jobs import settings

    conf = _settings(args)
    return settings.spark_session(conf), conf


def _status(args: argparse.Namespace) -> int:
    from jobs import operate

    spark, _ = _spark(args)
    print("\n".join(operate.status_lines(spark, args.lake, args.last)))
    if args.check is not None:
        problem = operate.check_last(spark, args.lake, args.check or None)
        print(f"check: {problem or 'newest run succeeded, gates passed'}")
        return 1 if problem else 0
    return 0


def _diff(args: argparse.Namespace) -> int:
    from jobs import operate

    spark, _ = _spark(args)
    lines, differing = operate.diff(spark, args.lake, args.from_run, args.to_run, args.against, args.threshold_pct,
                                    by_week=args.by == "week")
    print("\n".join(lines))
    return 1 if differing else 0


def _restore(args: argparse.Namespace) -> None:
    from jobs import operate

    spark, _ = _spark(args)
    print("\n".join(operate.restore(spark, args.lake, args.run)))


def _maintain(args: argparse.Namespace) -> None:
    from jobs import operate

    spark, conf = _spark(args)
    print("\n".join(operate.maintain(spark, args.lake, conf.get("maintenance", {}))))


def _explain(args: argparse.Namespace) -> None:
    from jobs import explain

    spark, conf = _spark(args)
    options = [c.strip() for c in (args.options or "").split(",") if c.strip()]
    print("\n".join(explain.explain(spark, conf, args.source, args.plant, args.model, args.date, options, args.part)))


def _where_used(args: argparse.Namespace) -> None:
    from jobs import explain

    spark, conf = _spark(args)
    print("\n".join(explain.where_used(spark, conf, args.source, args.part)))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conf", help="extra YAML laid over conf/")
    parser.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")


def parser() -> argparse.ArgumentParser:
    from jobs.generate import DEFAULT_NETWORK
    from jobs.nightly_demand import add_arguments

    top = argparse.ArgumentParser(prog="bomflow", description="Nightly material demand on Spark + Delta Lake")
    sub = top.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write sample input tables (Parquet) for a realistic plant network")
    gen.add_argument("--out", required=True, help="folder to write DIR/<table>/ into")
    gen.add_argument("--orders", type=int, default=20_000, help="number of production orders (default 20000)")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--start-date", type=date.fromisoformat, default=date.today(),
                     help="first production date, YYYY-MM-DD (default today)")
    gen.add_argument("--days", type=int, default=28, help="production days covered by orders (default 28)")
    gen.add_argument("--network", type=Path, default=DEFAULT_NETWORK, help="plant network YAML")
    gen.add_argument("--bad", action="store_true",
                     help="also write one bad row for every quarantine reason (blocks model G60)")
    gen.add_argument("--conf", help="extra YAML laid over conf/")
    gen.add_argument("--env", help="environment file in conf/ (default $BOMFLOW_ENV or local)")
    gen.set_defaults(action=_generate)

    run = sub.add_parser("run", help="run the nightly demand job: source -> Delta lake (-> Solr)")
    add_arguments(run)
    run.add_argument("--no-publish", action="store_true", help="do not publish to Solr after a successful run")
    run.set_defaults(action=_run)

    pub = sub.add_parser("publish", help="publish a run's demand_summary to Solr (blue/green alias swap)")
    pub.add_argument("--lake", required=True)
    pub.add_argument("--run-id", help="a succeeded run (default: the last one)")
    pub.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(pub)
    pub.set_defaults(action=_publish)

    back = sub.add_parser("rollback", help="point the Solr alias back to the previous (or a named) run")
    back.add_argument("--to", help="run id to roll back to (default: the previous collection)")
    back.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(back)
    back.set_defaults(action=_rollback)

    solr = sub.add_parser("solr", help="the local SolrCloud on 127.0.0.1: start, stop, status")
    solr.add_argument("solr_command", choices=["start", "stop", "status"])
    _common(solr)
    solr.set_defaults(action=_solr)

    exp = sub.add_parser("export", help="write supplier demand of the last successful run for exchange")
    exp.add_argument("format", choices=["catenax"], help="catenax: WeekBasedMaterialDemand 3.0.1 + ShortTermMaterialDemand 1.0.0")
    exp.add_argument("--lake", required=True)
    exp.add_argument("--out", required=True, help="folder; the run's documents go to OUT/<run_id>/")
    exp.add_argument("--customer-bpnl", help="our BPNL as the customer (default catenax.customer_bpnl in conf)")
    exp.add_argument("--run-id", help="a succeeded run (default: the last one)")
    _common(exp)
    exp.set_defaults(action=_export)

    status = sub.add_parser("status", help="the last runs: status, gates, publish state, durations")
    status.add_argument("--lake", required=True)
    status.add_argument("--last", type=int, default=10)
    status.add_argument("--check", nargs="?", const="", metavar="RUN_DATE",
                        help="exit 1 unless the newest run succeeded with gates passed (and is for RUN_DATE)")
    _common(status)
    status.set_defaults(action=_status)

    cmp_ = sub.add_parser("diff", help="compare part_demand of two runs (or two lakes) per plant and part; "
                                       "exit 1 when a difference is above the threshold")
    cmp_.add_argument("--lake", required=True)
    cmp_.add_argument("--from", dest="from_run", help="reference run (default: the succeeded run before --to)")
    cmp_.add_argument("--to", dest="to_run", help="candidate run (default: the last succeeded run)")
    cmp_.add_argument("--against", help="a second lake (shadow system on the same source): compare its run with LAKE's")
    cmp_.add_argument("--threshold-pct", type=float, default=0.0,
                      help="a plant/part whose total changes by more than this %% counts as changed (default 0)")
    cmp_.add_argument("--by", choices=["part", "week"], default="part",
                      help="compare totals per plant and part (default), or per plant, part and ISO week")
    _common(cmp_)
    cmp_.set_defaults(action=_diff)

    rest = sub.add_parser("restore", help="Delta RESTORE of part_demand and demand_summary to a run's versions")
    rest.add_argument("--lake", required=True)
    rest.add_argument("--run", required=True, help="a succeeded run id")
    _common(rest)
    rest.set_defaults(action=_restore)

    maint = sub.add_parser("maintain", help="OPTIMIZE (Z-order) and VACUUM the lake's Delta tables")
    maint.add_argument("--lake", required=True)
    _common(maint)
    maint.set_defaults(action=_maintain)

    expl = sub.add_parser("explain", help="the exploded BOM of one configuration as a tree, with the engine's totals")
    expl.add_argument("--source", required=True)
    expl.add_argument("--plant", required=True)
    expl.add_argument("--model", required=True)
    expl.add_argument("--date", required=True, type=date.fromisoformat, help="production date YYYY-MM-DD")
    expl.add_argument("--options", default="", help="option codes, comma separated")
    expl.add_argument("--part", help="only the paths that reach this part")
    _common(expl)
    expl.set_defaults(action=_explain)

    used = sub.add_parser("where-used", help="the models and BOM paths that use a part")
    used.add_argument("--source", required=True)
    used.add_argument("--part", required=True)
    _common(used)
    used.set_defaults(action=_where_used)

    from jobs import validate
    check = sub.add_parser("validate", help="run the input gate alone (quarantine counts, GX Data Docs)")
    validate.add_arguments(check)
    check.set_defaults(action=validate.execute)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return guarded(lambda: args.action(args))


if __name__ == "__main__":
    sys.exit(main())
