"""The planner's window (`bomflow ui`): one page on 127.0.0.1 with a part's, supplier's or plant's demand
by day, week or month per plant, as a table and a Plotly chart, last night's change next to it, the
exception messages to act on, the part's where-used, the orders behind each week (pegging, `/peg`),
and the run it came from (gates, blocked models, quarantine counts).

Demand and exception messages are read through the Solr alias (what suppliers and planners are
served); what Solr does not hold (the run record, the previous run's demand, the run's BOM copy and
its pegging tables) is read from the lake, always for the run the alias serves.
Stack (docs/ui.md): Flask + Jinja for one server-rendered page, waitress to serve it, Plotly.js from
the `plotly` wheel (no CDN, no front-end build).
"""
import json
from dataclasses import dataclass, field
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from adapters import solr_query
from pipeline.errors import BomflowError
from schemas import names as n
from transforms.scope import where_equal

BUCKETS = (n.DAY, n.WEEK, n.MONTH)


@dataclass
class Question:
    plant: str = ""
    part: str = ""
    supplier: str = ""
    by: str = n.WEEK

    def asked(self) -> bool:
        return bool(self.plant or self.part or self.supplier)


@dataclass
class Answer:
    question: Question
    run: dict | None = None            # the served run's record
    previous_run_id: str | None = None
    rows: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    where_used: list[str] = field(default_factory=list)   # the searched part's models and paths (run's BOM)
    problem: str | None = None


def _key(row) -> tuple:
    return (row[n.PLANT_ID], row[n.PART_ID], str(row[n.BUCKET_START]), row[n.SOURCE])


class Window:
    """What the page asks: Solr for demand and exception messages, the lake for everything else."""

    def __init__(self, spark: SparkSession, conf: dict, lake: str, solr_url: str | None = None):
        self.spark, self.conf, self.lake, self.solr_url = spark, conf, str(lake), solr_url
        self._boms: dict[str, object] = {}   # run id -> its BOM copy, screened (pipeline/explain.py)
        self._runs: dict[str, tuple] = {}    # served run id -> (its record, the run before it): one read each

    def served(self, run_id: str) -> tuple[dict, object]:
        """The served run's record and the succeeded run before it, read once per served run."""
        if run_id not in self._runs:
            record = self.run_record(run_id)
            self._runs = {run_id: (record, self.previous_run(record))}
        return self._runs[run_id]

    def served_run_id(self) -> str:
        """The run the alias serves; a BomflowError (shown on the page) when nothing is published."""
        run_id = solr_query.served_run_id(self.conf["solr"], self.solr_url)
        if run_id is None:
            raise BomflowError("nothing is published yet: run `bomflow publish --lake DIR`")
        return run_id

    def where_used(self, part: str, run_id: str) -> list[str]:
        """The part's models and BOM paths in the BOM the run used (its copy in the lake)."""
        from pipeline import explain
        if run_id not in self._boms:
            self._boms = {run_id: explain.read_bom(self.spark, self.conf, lake=self.lake, run_id=run_id)}
        return explain.where_used(self.spark, self.conf, self._boms[run_id], part)

    def pegging(self, plant: str, part: str, week, run_id: str):
        """The orders behind a week's demand of the run (pipeline/peg.py)."""
        from pipeline.peg import peg
        return peg(self.spark, self.lake, plant, part, week, run_id)

    def _filters(self, q: Question, df):
        return where_equal(df, **{n.PLANT_ID: q.plant, n.PART_ID: q.part, n.SUPPLIER_ID: q.supplier})

    def run_record(self, run_id: str) -> dict:
        row = lk.succeeded_run(self.spark, self.lake, run_id)
        metrics = json.loads(row.metrics_json or "{}")
        return {"run_id": row.run_id, "run_date": str(row.run_date), "status": row.status,
                "finished_at": str(row.finished_at), "gate_result": row.gate_result, "orders_read": row.orders_read,
                "quarantine_rows": row.quarantine_rows or 0,
                "quarantine_by_reason": sorted((table, reason, count) for table, reasons in
                                               metrics.get("quarantine_by_reason", {}).items()
                                               for reason, count in reasons.items()),
                "blocked_models": json.loads(row.blocked_models) if row.blocked_models else {},
                "started_at": row.started_at}

    def previous_run(self, run: dict):
        """The succeeded run before the served one (None on a first night)."""
        runs = lk.runs_table(self.spark, self.lake)
        earlier = runs.where((F.col("status") == n.SUCCEEDED) & (F.col("started_at") < F.lit(run["started_at"])))
        row = earlier.orderBy(F.col("started_at").desc()).first()
        return lk.succeeded_run(self.spark, self.lake, row.run_id) if row is not None else None

    def answer(self, q: Question) -> Answer:
        found = Answer(q)
        try:
            run_id = self.served_run_id()
            found.run, before = self.served(run_id)
            if not q.asked():
                return found
            found.rows = solr_query.query_demand(self.conf["solr"], q.by, q.plant or None, q.part or None,
                                           q.supplier or None, url=self.solr_url)
            if before is not None:
                found.previous_run_id = before.run_id
                old = self._filters(q, lk.committed_table(self.spark, self.lake, before, n.DEMAND_SUMMARY))
                previous = {_key(r): r[n.QUANTITY] for r in old.where(F.col(n.BUCKET) == q.by).collect()}
                for row in found.rows:
                    row["previous"] = previous.get(_key(row), Decimal(0))
                    row["change"] = row[n.QUANTITY] - row["previous"]
            found.exceptions = solr_query.query_exceptions(self.conf["solr"], q.plant or None, q.part or None,
                                                           url=self.solr_url)
            if q.part:
                found.where_used = self.where_used(q.part, run_id)
        except BomflowError as err:
            found.problem = str(err)
        return found


def chart(rows: list[dict]) -> list[dict]:
    """Plotly traces: one bar series per plant (orders and plan summed per bucket)."""
    per_plant: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        buckets = per_plant.setdefault(row[n.PLANT_ID], {})
        start = str(row[n.BUCKET_START])
        buckets[start] = buckets.get(start, Decimal(0)) + row[n.QUANTITY]
    return [{"type": "bar", "name": plant, "x": sorted(b), "y": [float(b[x]) for x in sorted(b)]}
            for plant, b in sorted(per_plant.items())]


def create_app(window: Window):
    """The Flask app: `/` is the page (GET parameters plant, part, supplier, by), `/plotly.min.js` the chart
    library from the plotly wheel, `/healthz` for a probe."""
    from flask import Flask, Response, render_template, request
    from plotly.offline import get_plotlyjs

    app = Flask("bomflow.ui", template_folder=str(_templates()))
    plotly_js = get_plotlyjs()

    @app.get("/")
    def page():
        by = request.args.get("by", n.WEEK)
        q = Question(*(request.args.get(k, "").strip() for k in ("plant", "part", "supplier")),
                     by=by if by in BUCKETS else n.WEEK)
        found = window.answer(q)
        total = sum((r[n.QUANTITY] for r in found.rows), Decimal(0))
        return render_template("ui.html", a=found, q=q, buckets=BUCKETS, total=total,
                               traces=json.dumps(chart(found.rows)))

    @app.get("/peg")
    def peg():
        from pipeline.peg import parse_week
        plant, part = request.args.get("plant", "").strip(), request.args.get("part", "").strip()
        found, problem = None, None
        try:
            found = window.pegging(plant, part, parse_week(request.args.get("week", "")), window.served_run_id())
        except BomflowError as err:
            problem = str(err)
        return render_template("peg.html", p=found, problem=problem, plant=plant, part=part)

    @app.get("/plotly.min.js")
    def plotly():
        return Response(plotly_js, mimetype="application/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


def _templates():
    from pipeline import resources
    return resources.on_disk("pipeline", "templates")


def serve(app, port: int, host: str = "127.0.0.1"):
    """A waitress server for the app (call .run() to serve, .close() to stop)."""
    from waitress import create_server
    return create_server(app, host=host, port=port, threads=4)
