"""What each `bomflow` command does, one function per command (jobs/cli.py parses the arguments).

Each loads the layered configuration, builds the session where it needs Spark,
calls one function of pipeline/ and prints its lines. Heavy modules are
imported inside the command, so `bomflow --help` stays fast.
"""
import argparse
from contextlib import contextmanager
from pathlib import Path

from pipeline import config, logs
from pipeline.errors import Exit


def _settings(args: argparse.Namespace) -> dict:
    conf = config.load(args.env, args.conf)
    logs.configure(conf, getattr(args, "log_level", None))
    return conf


def _session(args: argparse.Namespace):
    from adapters.session import spark_session

    conf = _settings(args)
    return spark_session(conf), conf


def generate(args: argparse.Namespace) -> None:
    from pipeline import generate as gen

    spark, _ = _session(args)
    from pipeline.realistic import ORDERS_PER_SCALE, Shape

    orders = round(args.scale * ORDERS_PER_SCALE) if args.scale is not None else args.orders
    opts = gen.Options(out=args.out, orders=orders, seed=args.seed, start_date=args.start_date,
                       days=args.days, network=args.network, bad=args.bad, profile=args.profile,
                       shape=Shape(args.positions, args.depth, args.rule_share))
    counts = gen.generate(spark, opts)
    width = max(map(len, counts))
    from adapters.storage import is_local

    print(f"wrote {args.profile} source to {Path(args.out).resolve() if is_local(args.out) else args.out}")
    for table, rows in counts.items():
        print(f"  {table:<{width}}  {rows:>10,} rows")


def run(args: argparse.Namespace) -> int:
    from pipeline import night

    return night.execute(args)


@contextmanager
def _holding(args: argparse.Namespace, command: str):
    """The lake's lease for `command` (waiting up to --wait seconds), then (spark, conf)."""
    from adapters.session import leased

    conf = _settings(args)
    with leased(conf, args.lake, command, getattr(args, "wait", 0)) as spark:
        yield spark, conf


def publish(args: argparse.Namespace) -> None:
    from pipeline import night

    with _holding(args, "publish") as (spark, conf):
        try:
            print(night.publish_step(spark, conf, args.lake, args.run_id, args.solr))
        finally:
            night.export_metrics(spark, conf, args.lake)


def demand(args: argparse.Namespace) -> None:
    """A planner's question to Solr: demand by day, week or month of a plant, part or supplier."""
    from adapters import solr_query
    from pipeline.query import render

    if not (args.plant or args.part or args.supplier):
        from pipeline.errors import BomflowError
        raise BomflowError("demand: name at least one of --plant, --part, --supplier")
    conf = _settings(args)
    rows = solr_query.query_demand(conf["solr"], args.by, args.plant, args.part, args.supplier, args.first, args.last,
                             args.solr)
    print(render(rows, args.format), end="")


def exceptions(args: argparse.Namespace) -> None:
    """The exception messages planners are served: through the Solr alias, or with --lake from the lake
    (the run the lake serves, or --run-id), optionally one kind, plant or part."""
    from pipeline.query import render_exceptions

    if args.lake is None:
        if args.run_id:
            from pipeline.errors import BomflowError
            raise BomflowError("exceptions: --run-id needs --lake (Solr serves one run, the alias's)")
        from adapters import solr_query
        rows = solr_query.query_exceptions(_settings(args)["solr"], args.plant, args.part, args.kind, args.solr)
        print(render_exceptions(rows, args.format), end="")
        return
    from pyspark.sql import functions as F

    from adapters import lake as lk
    from schemas import names as n
    from transforms.scope import where_equal

    spark, _ = _session(args)
    run = lk.succeeded_run(spark, args.lake, args.run_id)
    found = lk.lake_table(spark, args.lake, n.EXCEPTIONS, "its runs are older than the exception messages")
    found = found.where(F.col(n.RUN_ID) == run.run_id)
    found = where_equal(found, kind=args.kind, **{n.PLANT_ID: args.plant, n.PART_ID: args.part})
    rows = [r.asDict() for r in found.orderBy("kind", n.PLANT_ID, n.PART_ID, "bucket_start", n.MODEL_ID).collect()]
    print(render_exceptions(rows, args.format), end="")


def peg(args: argparse.Namespace) -> None:
    """The orders behind a week's demand for a part at a plant, from the run's own tables (pipeline/peg.py)."""
    from pipeline import peg as pegging
    from pipeline.query import render_peg

    spark, _ = _session(args)
    found = pegging.peg(spark, args.lake, args.plant, args.part, pegging.parse_week(args.week), args.run_id)
    print(render_peg(found, args.format), end="")


def ui(args: argparse.Namespace) -> None:
    """The planner's page on 127.0.0.1 (pipeline/ui.py), until interrupted."""
    try:   # the extra's packages are imported lazily inside pipeline/ui.py, so check them here
        import flask, plotly, waitress  # noqa: F401,E401
    except ImportError as err:
        from pipeline.errors import BomflowError
        raise BomflowError(f"bomflow ui needs its extra: pip install 'bomflow[ui]' ({err.name} is missing)") from None
    from pipeline import ui as window

    spark, conf = _session(args)
    server = window.serve(window.create_app(window.Window(spark, conf, args.lake, args.solr)), args.port)
    print(f"bomflow ui: http://127.0.0.1:{server.effective_port}/  (lake {args.lake}, Solr alias "
          f"{conf['solr']['alias']}; Ctrl-C stops it)", flush=True)
    try:
        server.run()
    finally:
        server.close()


def metrics(args: argparse.Namespace) -> None:
    """The lake's run metrics in Prometheus' text format: printed, or written to --out (atomically)."""
    from adapters import lake as lk
    from pipeline import metrics as m

    spark, _ = _session(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {m.export(spark, args.lake, args.out)}")
    else:
        print(m.text(args.lake, lk.runs_table(spark, args.lake).collect()), end="")


def rollback(args: argparse.Namespace) -> None:
    from adapters import solr, solr_lock

    conf = _settings(args)["solr"]
    with solr_lock.held(conf, args.solr or conf["url"], "rollback"):
        before, after = solr.rollback(conf, args.to, args.solr)
    print(f"alias {conf['alias']}: {before or 'none'} -> {after}")


def solr(args: argparse.Namespace) -> None:
    from adapters import solr as solr_client, solr_lock, solr_server

    conf = _settings(args)["solr"]
    if args.solr_command == "stop":
        print("solr: stopped" if solr_server.stop(conf) else "solr: was not running (no pid file)")
        return
    if args.solr_command == "start":
        solr_server.start(conf)
    lines = solr_client.status_lines(conf)   # says so when the alias is missing
    if solr_server.is_up(conf["url"]):
        lines.append(solr_lock.status_line(conf))
    print("\n".join(lines))


def export(args: argparse.Namespace) -> None:
    from pipeline import export as catenax

    with _holding(args, "export") as (spark, conf):
        report = catenax.export(spark, conf, args.lake, args.out, args.customer_bpnl, args.run_id)
    print("\n".join(catenax.summary_lines(report)))


def status(args: argparse.Namespace) -> int:
    from pipeline import operate

    from adapters import solr

    spark, conf = _session(args)
    print("\n".join(operate.status_lines(spark, args.lake, args.last)))
    print(solr.serving_line(conf["solr"], operate.serving_run_id(spark, args.lake)))
    if args.check is not None:
        problem = operate.check_last(spark, args.lake, args.check or None)
        print(f"check: {problem or 'newest run succeeded, gates passed'}")
        return Exit.DIFFERENCES if problem else Exit.OK
    return Exit.OK


def diff(args: argparse.Namespace) -> int:
    from pipeline import operate

    spark, _ = _session(args)
    lines, differing = operate.diff(spark, args.lake, args.from_run, args.to_run, args.against, args.threshold_pct,
                                    by_week=args.by == "week")
    print("\n".join(lines))
    return Exit.DIFFERENCES if differing else Exit.OK


def restore(args: argparse.Namespace) -> None:
    from pipeline import operate

    with _holding(args, "restore") as (spark, _):
        print("\n".join(operate.restore(spark, args.lake, args.run)))


def maintain(args: argparse.Namespace) -> None:
    from pipeline import operate

    with _holding(args, "maintain") as (spark, conf):
        print("\n".join(operate.maintain(spark, args.lake, conf.get("maintenance", {}))))


def explain(args: argparse.Namespace) -> None:
    from pipeline import explain as why

    spark, conf = _session(args)
    options = [c.strip() for c in (args.options or "").split(",") if c.strip()]
    bom = why.read_bom(spark, conf, args.source, args.lake, args.run_id)
    print("\n".join(why.explain(spark, conf, bom, args.plant, args.model, args.date, options, args.part)))


def where_used(args: argparse.Namespace) -> None:
    from pipeline import explain as why

    spark, conf = _session(args)
    bom = why.read_bom(spark, conf, args.source, args.lake, args.run_id)
    print("\n".join(why.where_used(spark, conf, bom, args.part)))


def validate(args: argparse.Namespace) -> None:
    from pipeline import validate as check

    spark, conf = _session(args)
    print("\n".join(check.validate_source(spark, conf, args.source, args.docs)))


def setup(args: argparse.Namespace) -> None:
    """Fetch the JVM parts and put Delta on Spark's classpath (an installed package's `make setup`)."""
    from adapters import jars
    from pipeline.resources import state_dir

    print(f"state folder: {state_dir()}")
    print("\n".join(jars.setup(solr=not args.no_solr)))


def config_show(args: argparse.Namespace) -> None:
    """The merged configuration as YAML, with its fingerprint (the runs table's config_sha256)."""
    import yaml

    from pipeline import about

    conf = config.load(args.env, args.conf)
    env = config.environment(args.env)
    print(f"# {about.describe()}; environment {env}{'; + ' + args.conf if args.conf else ''}")
    print(f"# layers: {', '.join(map(str, [config.CONF_DIR / 'base.yaml', *config.layers(env)]))}")
    print(f"# config_sha256: {config.fingerprint(conf)}")
    print(yaml.safe_dump(conf, sort_keys=False, default_flow_style=False).rstrip())
