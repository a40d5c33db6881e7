"""The gates of a night: thresholds over the validation counts, GX suites, and the output's whole-table checks.

A gate is a list of named checks; any failed check fails it, and the night then
fails closed (nothing is committed or published). The GX suites (schemas/gx/)
run on the frames the night already persisted, never on the raw files again:
each expectation is evaluated with result format BOOLEAN_ONLY, so a passing
one costs its share of one aggregate; only a failed one is evaluated again
with SUMMARY, to say by how much it failed. The configured share threshold is
the `mostly` of every expectation that has one (column, pair and multicolumn
map expectations alike). Data Docs are built once per run (Suites.finish).
"""
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n
from transforms.checks import plant_drift, summary_total_mismatches, uncovered_plant_models

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")   # no usage statistics leave this machine
log = logging.getLogger("bomflow.gates")


@dataclass
class GateResult:
    name: str
    failures: list[str] = field(default_factory=list)
    checks: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def as_dict(self) -> dict:
        return asdict(self)


def load_suites(gate: str) -> dict[str, list[dict]]:
    text = resources.files("schemas").joinpath("gx", f"{gate}.json").read_text()
    return {table: specs for table, specs in json.loads(text).items() if not table.startswith("_")}


def week_start_view(summary: DataFrame) -> DataFrame:
    """demand_summary plus week_start_weekday (Spark dayofweek: 2 = Monday) on week rows."""
    weekday = F.when(F.col(n.BUCKET) == n.WEEK, F.dayofweek(n.BUCKET_START))
    return summary.withColumn("week_start_weekday", weekday)


def expectation(spec: dict, mostly: float, resolve):
    """One expectation of a suite file as a GX configuration: `{"$ref": ...}` values through `resolve`, and
    the gate's `mostly` on every expectation type that has one (a spec's own `mostly` wins)."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.expectations.registry import get_expectation_impl

    kwargs = {key: resolve(value["$ref"]) if isinstance(value, dict) and "$ref" in value else value
              for key, value in spec["kwargs"].items()}
    if mostly < 1 and "mostly" not in kwargs and "mostly" in get_expectation_impl(spec["type"]).__fields__:
        kwargs["mostly"] = mostly
    return ExpectationConfiguration(type=spec["type"], kwargs=kwargs)


class Suites:
    """One GX file context per run, rooted at `docs_root` (its Data Docs site lives inside)."""

    def __init__(self, docs_root: Path | str):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.root = str(docs_root)
        self.gx = gx
        self.context = gx.get_context(mode="file", project_root_dir=str(docs_root))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        # persist=False: the frames are the night's own checkpoints; GX would cache each again, never released
        self.source = self.context.data_sources.add_or_update_spark(name="bomflow", persist=False)
        self._refs: dict[str, list] = {}

    def run(self, gate: str, frames: dict[str, DataFrame], result: GateResult, mostly: dict[str, float] | None = None,
            refs: dict[str, DataFrame] | None = None) -> None:
        """Validate each frame with its suite from schemas/gx/<gate>.json; failures go into `result`.
        mostly: per table, the share of rows each map expectation must hold for (default 1)."""
        for table, specs in load_suites(gate).items():
            if table not in frames:
                continue
            share = (mostly or {}).get(table, 1.0)
            configs = [expectation(spec, share, lambda ref: self._resolve(ref, refs or {})) for spec in specs]
            validation = self._validate(f"{gate}_{table}", configs, frames[table], "BOOLEAN_ONLY")
            result.checks += len(validation.results)
            failed = [r.expectation_config for r in validation.results if not r.success]
            if failed:   # again, only the failed ones, for the share of rows that failed
                detail = self._validate(f"{gate}_{table}_failed", failed, frames[table], "SUMMARY")
                for r in detail.results:
                    kw, share = r.expectation_config.kwargs, r.result.get("unexpected_percent")
                    result.fail(f"{table}: {r.expectation_config.type}({kw.get('column', kw.get('column_list', ''))})"
                                + (f" fails for {share:.2f} % of rows" if share is not None else " failed"))

    def finish(self) -> str | None:
        """Build the Data Docs once over every stored result; their index page."""
        self.context.build_data_docs()
        sites = self.context.get_docs_sites_urls()
        return sites[0]["site_url"] if sites else None

    def _resolve(self, ref: str, refs: dict[str, DataFrame]) -> list:
        """A "$ref" ("table.column"): that column's distinct values in the clean rows (collected once per run)."""
        if ref not in self._refs:
            table, column = ref.split(".")
            self._refs[ref] = sorted(r[0] for r in refs[table].select(column).distinct().collect() if r[0] is not None)
        return self._refs[ref]

    def _validate(self, name: str, configs: list, frame: DataFrame, result_format: str):
        gx = self.gx
        suite = gx.ExpectationSuite(name=name)
        for config in configs:
            suite.add_expectation_configuration(config)
        suite = self.context.suites.add_or_update(suite)
        batch = self.source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("all")
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        return definition.run(batch_parameters={"dataframe": frame}, result_format=result_format)


def allowed_rows(read: int, max_pct: float, min_rows: int) -> float:
    """How many rows of a table of `read` rows may be quarantined for their own defects: max_pct of
    them, but at least min_rows (so one bad row of a 12-row plan table does not stop 40 plants)."""
    return max(read * max_pct / 100, min(min_rows, read))


def input_gate(suites: Suites, frames: dict[str, DataFrame], used: dict[str, DataFrame],
               reconciliation: dict[str, dict], quarantine_by_reason: dict[str, dict], max_pct: float,
               min_rows: int = 0) -> GateResult:
    """Reconciliation and the quarantine share per table, then the input suites (per table, mostly =
    1 - allowed_rows / rows read)."""
    gate = count_checks(reconciliation, quarantine_by_reason, max_pct, min_rows)
    mostly = {table: 1 - allowed_rows(c["read"], max_pct, min_rows) / c["read"] if c["read"] else 1.0
              for table, c in reconciliation.items()}
    suites.run("input", frames, gate, mostly=mostly, refs=used)
    return gate


def count_checks(reconciliation: dict[str, dict], quarantine_by_reason: dict[str, dict], max_pct: float,
                 min_rows: int = 0) -> GateResult:
    """Per table: rows read = used + quarantined, and the rows quarantined for their own defects
    (model_blocked rows are not defects of theirs) at most allowed_rows (max_pct, at least min_rows)."""
    gate = GateResult("input")
    for table, c in reconciliation.items():
        gate.checks += 2
        if c["read"] != c["used"] + c["quarantined"]:
            gate.fail(f"{table}: {c['read']} rows read != {c['used']} used + {c['quarantined']} quarantined")
        own = quarantine_by_reason.get(table, {})
        own_defects = sum(rows for reason, rows in own.items() if reason != n.MODEL_BLOCKED)
        if c["read"] and own_defects > allowed_rows(c["read"], max_pct, min_rows):
            gate.fail(f"{table}: {own_defects / c['read']:.1%} of rows quarantined for their own defects "
                      f"(threshold {max_pct} %, at least {min_rows} rows)")
    return gate


def output_gate(suites: Suites, staged: DataFrame, summarised: DataFrame, summary: DataFrame,
                used_orders: DataFrame, previous: DataFrame | None, max_drift_pct: float | None) -> GateResult:
    """staged: the run's new part_demand rows; summarised: the rows its summary was built from (the same,
    or for a partial run also the kept rows of the plants it touched); previous: the slice it replaces."""
    gate = GateResult("output")
    suites.run("output", {n.PART_DEMAND: staged, n.DEMAND_SUMMARY: week_start_view(summary)}, gate)
    gate.checks += 3
    mismatches = summary_total_mismatches(summarised, summary).limit(5).collect()
    if mismatches:
        gate.fail(f"demand_summary totals differ from part_demand, e.g. {[tuple(r) for r in mismatches[:3]]}")
    uncovered = uncovered_plant_models(staged, used_orders).collect()
    if uncovered:
        gate.fail(f"(plant, model) with orders but no demand: {[tuple(r) for r in uncovered]}")
    if previous is not None and max_drift_pct is not None:
        for r in plant_drift(staged, previous, max_drift_pct).collect():
            gate.fail(f"plant {r.plant_id}: total {r.source} demand changed by {r.change_pct:+.1f} % against the "
                      f"previous run (threshold {max_drift_pct} %)")
    return gate
