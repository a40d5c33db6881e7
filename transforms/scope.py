"""Which (plant, model) partitions a run recomputes: all of them, or the ones named by --plants / --models.

A partial run reads only those partitions of production_orders and volume_plan
(both are partitioned by plant_id/model_id, so the filter prunes files), and
replaces only that slice of part_demand (Delta replaceWhere). demand_summary
is per plant, summed over models, so the plants a partial run touches get their
summary rebuilt whole, from their new and their kept rows.
"""
import re
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from schemas import names as n

ID = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Scope:
    plants: tuple[str, ...] = ()   # empty: every plant
    models: tuple[str, ...] = ()   # empty: every model

    @classmethod
    def parse(cls, plants: str | None, models: str | None) -> "Scope":
        def ids(text: str | None) -> tuple[str, ...]:
            values = tuple(sorted({v.strip() for v in (text or "").split(",") if v.strip()}))
            bad = [v for v in values if not ID.match(v)]
            if bad:
                raise ValueError(f"not a plant or model id: {', '.join(bad)}")
            return values
        return cls(ids(plants), ids(models))

    @property
    def full(self) -> bool:
        return not self.plants and not self.models

    def predicate(self, plants_only: bool = False) -> Column:
        cond = F.lit(True)
        if self.plants:
            cond = cond & F.col(n.PLANT_ID).isin(*self.plants)
        if self.models and not plants_only:
            cond = cond & F.col(n.MODEL_ID).isin(*self.models)
        return cond

    def sql(self, plants_only: bool = False) -> str:
        """The same predicate as Delta replaceWhere text (ids are checked against ID, so quoting is safe)."""
        terms = [f"{col} IN ({', '.join(repr(v) for v in values)})"
                 for col, values in ((n.PLANT_ID, self.plants), (n.MODEL_ID, () if plants_only else self.models))
                 if values]
        return " AND ".join(terms) or "true"

    def describe(self) -> str:
        return "all plants and models" if self.full else (
            f"plants {','.join(self.plants) or '(all)'} x models {','.join(self.models) or '(all)'}")


def restrict(tables: dict[str, DataFrame], scope: Scope) -> dict[str, DataFrame]:
    """The input tables as a run of `scope` reads them: orders and plan of its partitions, rates of its models."""
    if scope.full:
        return tables
    out = dict(tables)
    out[n.PRODUCTION_ORDERS] = tables[n.PRODUCTION_ORDERS].where(scope.predicate())
    out[n.VOLUME_PLAN] = tables[n.VOLUME_PLAN].where(scope.predicate())
    if scope.models:
        out[n.OPTION_TAKE_RATES] = tables[n.OPTION_TAKE_RATES].where(F.col(n.MODEL_ID).isin(*scope.models))
    return out


def where_equal(df: DataFrame, **wanted: str | None) -> DataFrame:
    """The rows whose columns equal the given values; a value left empty (None, "") does not filter."""
    for column, value in wanted.items():
        if value:
            df = df.where(F.col(column) == value)
    return df
