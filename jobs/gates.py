"""Validation gates with Great Expectations 1.x: suites from schemas/gx/, Data Docs under the lake.

A gate is a list of named checks: GX suites over whole DataFrames plus the
whole-table checks of transforms/checks.py. Any failed check fails the gate;
the caller then fails closed (nothing is committed or published).
"""
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas import names as n

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")   # no usage statistics leave this machine

SUITES_DIR = Path(__file__).resolve().parent.parent / "schemas" / "gx"
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


def load_suites(gate: str) -> dict[str, list[dict]]:
    data = json.loads((SUITES_DIR / f"{gate}.json").read_text())
    return {table: expectations for table, expectations in data.items() if not table.startswith("_")}


def _resolve(kwargs: dict, refs: dict[str, DataFrame]) -> dict:
    resolved = dict(kwargs)
    for key, value in kwargs.items():
        if isinstance(value, dict) and "$ref" in value:
            table, column = value["$ref"].split(".")
            resolved[key] = sorted(r[0] for r in refs[table].select(column).distinct().collect() if r[0] is not None)
    return resolved


def week_start_view(summary: DataFrame) -> DataFrame:
    """demand_summary plus week_start_weekday (Spark dayofweek: 2 = Monday) on week rows."""
    weekday = F.when(F.col(n.BUCKET) == n.WEEK, F.dayofweek(n.BUCKET_START))
    return summary.withColumn("week_start_weekday", weekday)


class Gates:
    """One GX file context per run, rooted at `docs_root` (its Data Docs site lives inside)."""

    def __init__(self, docs_root: Path):
        import great_expectations as gx

        self.gx = gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="file", project_root_dir=str(docs_root))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_or_update_spark(name="bomflow")

    def run_suites(self, gate: str, frames: dict[str, DataFrame], result: GateResult, mostly: float = 1.0,
                   refs: dict[str, DataFrame] | None = None) -> None:
        """Validate each frame with its suite from schemas/gx/<gate>.json; failures go into `result`."""
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        gx = self.gx
        for table, expectations in load_suites(gate).items():
            if table not in frames:
                continue
            suite = gx.ExpectationSuite(name=f"{gate}_{table}")
            for spec in expectations:
                kwargs = _resolve(spec["kwargs"], refs or {})
                if spec["type"].startswith("expect_column_values_to_") and mostly < 1 and "mostly" not in kwargs:
                    kwargs["mostly"] = mostly
                suite.add_expectation_configuration(ExpectationConfiguration(type=spec["type"], kwargs=kwargs))
            suite = self.context.suites.add_or_update(suite)
            batch = self.source.add_dataframe_asset(name=f"{gate}_{table}").add_batch_definition_whole_dataframe("all")
            definition = self.context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=f"{gate}_{table}", data=batch, suite=suite))
            validation = definition.run(batch_parameters={"dataframe": frames[table]})   # stored for the docs
            for r in validation.results:
                result.checks += 1
                if not r.success:
                    kw = r.expectation_config.kwargs
                    share = r.result.get("unexpected_percent")
                    result.fail(f"{table}: {r.expectation_config.type}({kw.get('column', '')})"
                                + (f" fails for {share:.2f} % of rows" if share is not None else " failed"))
        self.context.build_data_docs()   # once per gate, over every suite's stored result

    def docs_index(self) -> str | None:
        sites = self.context.get_docs_sites_urls()
        return sites[0]["site_url"] if sites else None
