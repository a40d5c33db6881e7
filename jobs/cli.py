"""The `bomflow` command line.

    bomflow generate --out DIR [--orders N | --scale SF] [--seed S] [--start-date D] [--days N] [--profile realistic]
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
    bomflow explain (--source DIR | --lake DIR [--run RUN]) --plant P --model M --date D --options A,B [--part X]
    bomflow where-used (--source DIR | --lake DIR [--run RUN]) --part X
    bomflow config show [--conf FILE] [--env ENV]
    bomflow setup [--no-solr]
    bomflow metrics --lake DIR [--out FILE.prom]
    bomflow exceptions [--lake DIR [--run-id RUN]] [--kind LATE|STALE|JUMP|RUN_OUT] [--plant P] [--part X]
                       [--format table|json|csv]
    bomflow peg --lake DIR --plant P --part X --week 2026-W11 [--run RUN] [--format table|json|csv]
    bomflow demand [--plant P] [--part X] [--supplier S] --by day|week|month [--from D --to D] [--format table|json|csv]
    bomflow --version
"""
import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline.errors import guarded


def _bom_input(parser: argparse.ArgumentParser) -> None:
    """--source DIR, or --lake DIR [--run RUN]: a source folder or a run's own copy of the BOM."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--source", help="a source folder (validated as the night does)")
    where.add_argument("--lake", help="a lake: the BOM its serving run (or --run) used")
    parser.add_argument("--run", "--run-id", dest="run_id", help="with --lake: a succeeded run (default the served one)")


def _common(parser: argparse.ArgumentParser) -> None:
    from pipeline.night import add_log_level

    parser.add_argument("--conf", help="extra YAML laid over conf/ (and $BOMFLOW_CONF_DIR)")
    parser.add_argument("--env", help="environment: conf/ENV.yaml and/or $BOMFLOW_CONF_DIR/ENV.yaml "
                                      "(default $BOMFLOW_ENV or local)")
    add_log_level(parser)


class _Version(argparse.Action):
    """--version, worked out only when asked (it may run git): not on every command's start-up."""
    def __call__(self, parser, namespace, values, option_string=None):
        from pipeline import about
        print(about.describe())   # on stdout, as argparse's own version action prints it
        parser.exit()


def parser() -> argparse.ArgumentParser:
    from pipeline import commands, validate
    from pipeline.generate import DEFAULT_NETWORK
    from pipeline.night import add_arguments, add_wait

    top = argparse.ArgumentParser(prog="bomflow", description="Nightly material demand on Spark + Delta Lake")
    top.add_argument("--version", action=_Version, nargs=0, help="show the version and git revision, then exit")
    sub = top.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write sample input tables (Parquet) for a realistic plant network")
    gen.add_argument("--out", required=True, help="folder to write DIR/<table>/ into")
    size = gen.add_mutually_exclusive_group()
    size.add_argument("--orders", type=int, default=20_000, help="number of production orders (default 20000)")
    size.add_argument("--scale", type=float, help="scale factor: SF 1 = 1,000,000 orders")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--start-date", type=date.fromisoformat, default=date.today(),
                     help="first production date, YYYY-MM-DD (default today)")
    gen.add_argument("--days", type=int, default=28, help="production days covered by orders (default 28)")
    gen.add_argument("--network", type=Path, default=DEFAULT_NETWORK, help="plant network YAML")
    gen.add_argument("--bad", action="store_true",
                     help="also write one bad row for every quarantine reason (blocks model G60)")
    gen.add_argument("--profile", choices=("sample", "realistic"), default="sample",
                     help="sample: the small network of conf/sample_network.yaml; realistic: 42 plants, 12 models, "
                          "80-150 option codes per car, a 150%% BOM of --positions edges per model")
    gen.add_argument("--positions", type=int, default=5_000, help="realistic: BOM edges per model (default 5000)")
    gen.add_argument("--depth", type=int, default=7, help="realistic: BOM levels below the model (default 7)")
    gen.add_argument("--rule-share", type=float, default=0.35, help="realistic: share of edges with a rule (default 0.35)")
    _common(gen)
    gen.set_defaults(action=commands.generate)

    run = sub.add_parser("run", help="run the nightly demand job: source -> Delta lake (-> Solr)")
    add_arguments(run)
    run.set_defaults(action=commands.run)

    pub = sub.add_parser("publish", help="publish a run's demand_summary to Solr (blue/green alias swap)")
    pub.add_argument("--lake", required=True)
    pub.add_argument("--run-id", help="a succeeded run (default: the last one)")
    pub.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(pub)
    add_wait(pub)
    pub.set_defaults(action=commands.publish)

    back = sub.add_parser("rollback", help="point the Solr alias back to the previous (or a named) run")
    back.add_argument("--to", help="run id to roll back to (default: the previous collection)")
    back.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(back)
    back.set_defaults(action=commands.rollback)

    solr = sub.add_parser("solr", help="the local SolrCloud on 127.0.0.1: start, stop, status")
    solr.add_argument("solr_command", choices=["start", "stop", "status"])
    _common(solr)
    solr.set_defaults(action=commands.solr)

    exp = sub.add_parser("export", help="write supplier demand of the last successful run for exchange")
    exp.add_argument("format", choices=["catenax"], help="catenax: WeekBasedMaterialDemand 3.0.1 + ShortTermMaterialDemand 1.0.0")
    exp.add_argument("--lake", required=True)
    exp.add_argument("--out", required=True, help="folder; the run's documents go to OUT/<run_id>/")
    exp.add_argument("--customer-bpnl", help="our BPNL as the customer (default catenax.customer_bpnl in conf)")
    exp.add_argument("--run-id", help="a succeeded run (default: the last one)")
    _common(exp)
    add_wait(exp)
    exp.set_defaults(action=commands.export)

    status = sub.add_parser("status", help="the last runs: status, gates, publish state, durations")
    status.add_argument("--lake", required=True)
    status.add_argument("--last", type=int, default=10)
    status.add_argument("--check", nargs="?", const="", metavar="RUN_DATE",
                        help="exit 1 unless the newest run succeeded with gates passed (and is for RUN_DATE)")
    _common(status)
    status.set_defaults(action=commands.status)

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
    cmp_.set_defaults(action=commands.diff)

    rest = sub.add_parser("restore", help="Delta RESTORE of part_demand and demand_summary to a run's versions")
    rest.add_argument("--lake", required=True)
    rest.add_argument("--run", required=True, help="a succeeded run id")
    _common(rest)
    add_wait(rest)
    rest.set_defaults(action=commands.restore)

    maint = sub.add_parser("maintain", help="OPTIMIZE (Z-order) and VACUUM the lake's Delta tables")
    maint.add_argument("--lake", required=True)
    _common(maint)
    add_wait(maint)
    maint.set_defaults(action=commands.maintain)

    expl = sub.add_parser("explain", help="the exploded BOM of one configuration as a tree, with the engine's totals")
    _bom_input(expl)
    expl.add_argument("--plant", required=True)
    expl.add_argument("--model", required=True)
    expl.add_argument("--date", required=True, type=date.fromisoformat, help="production date YYYY-MM-DD")
    expl.add_argument("--options", default="", help="option codes, comma separated")
    expl.add_argument("--part", help="only the paths that reach this part")
    _common(expl)
    expl.set_defaults(action=commands.explain)

    used = sub.add_parser("where-used", help="the models and BOM paths that use a part")
    _bom_input(used)
    used.add_argument("--part", required=True)
    _common(used)
    used.set_defaults(action=commands.where_used)

    dem = sub.add_parser("demand", help="a plant's, part's or supplier's demand by day, week or month, from Solr")
    dem.add_argument("--plant")
    dem.add_argument("--part")
    dem.add_argument("--supplier", help="a supplier's BPNL")
    dem.add_argument("--by", choices=["day", "week", "month"], default="week")
    dem.add_argument("--from", dest="first", type=date.fromisoformat, help="first bucket start, YYYY-MM-DD")
    dem.add_argument("--to", dest="last", type=date.fromisoformat, help="last bucket start, YYYY-MM-DD")
    dem.add_argument("--format", choices=["table", "json", "csv"], default="table")
    dem.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(dem)
    dem.set_defaults(action=commands.demand)

    exc = sub.add_parser("exceptions", help="the served run's exception messages: LATE, STALE, JUMP, RUN_OUT")
    exc.add_argument("--lake", help="read the lake instead of Solr's alias")
    exc.add_argument("--kind", choices=["LATE", "STALE", "JUMP", "RUN_OUT"])
    exc.add_argument("--plant")
    exc.add_argument("--part")
    exc.add_argument("--run-id", help="with --lake: a succeeded run (default: the one the lake serves)")
    exc.add_argument("--solr", help="Solr base URL (default from conf)")
    exc.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _common(exc)
    exc.set_defaults(action=commands.exceptions)

    pg = sub.add_parser("peg", help="the orders behind a week's demand for a part at a plant (pegging)")
    pg.add_argument("--lake", required=True)
    pg.add_argument("--plant", required=True)
    pg.add_argument("--part", required=True)
    pg.add_argument("--week", required=True, help="ISO week (2026-W11) or any date of it (YYYY-MM-DD)")
    pg.add_argument("--run", "--run-id", dest="run_id", help="a succeeded run (default: the one the lake serves)")
    pg.add_argument("--format", choices=["table", "json", "csv"], default="table")
    _common(pg)
    pg.set_defaults(action=commands.peg)

    page = sub.add_parser("ui", help="the planner's page on 127.0.0.1: demand, last night's change, exceptions, the run")
    page.add_argument("--lake", required=True)
    page.add_argument("--port", type=int, default=8765)
    page.add_argument("--solr", help="Solr base URL (default from conf)")
    _common(page)
    page.set_defaults(action=commands.ui)

    met = sub.add_parser("metrics", help="the lake's run metrics in Prometheus' text format (node_exporter textfile)")
    met.add_argument("--lake", required=True)
    met.add_argument("--out", help="write this .prom file (atomically) instead of printing")
    _common(met)
    met.set_defaults(action=commands.metrics)

    up = sub.add_parser("setup", help="fetch the Delta and Solr jars (Maven) and put Delta on Spark's classpath")
    up.add_argument("--no-solr", action="store_true", help="Delta only (a cluster node needs no local Solr)")
    up.set_defaults(action=commands.setup)

    cfg = sub.add_parser("config", help="show the merged configuration (base + environment + --conf) and its hash")
    cfg.add_argument("config_command", choices=["show"])
    _common(cfg)
    cfg.set_defaults(action=commands.config_show)

    check = sub.add_parser("validate", help="run the input gate alone (quarantine counts, GX Data Docs)")
    validate.add_arguments(check)
    check.set_defaults(action=commands.validate)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return guarded(lambda: args.action(args))


if __name__ == "__main__":
    sys.exit(main())
