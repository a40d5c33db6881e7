"""Row checks of the long-term plan inputs (volume_plan, option_take_rates), as validate.py does for orders.

option_take_rates is checked first: a (model, month) that lost any take-rate row
for its own defect would get wrong probabilities (a missing code counts as never
taken), so its volume_plan rows are quarantined too (take_rates_quarantined)
rather than exploded with a guess. Rows of a blocked model are model_blocked.
"""
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas import names as n
from transforms.row_checks import REASON, Check, annotate, fmt, mark_known
from transforms.rules import CODE_PATTERN
from transforms.validate import blocked_check, date_check, with_blocked_cause


def _month_check(month) -> Check:
    return Check(n.INVALID_MONTH, month.isNull() | (F.dayofmonth(month) != 1),
                 fmt("month %s is not the first day of a month", month))



def check_take_rates(rates: DataFrame, models: list[str], blocked: dict[str, str]) -> DataFrame:
    """models: the valid model ids; blocked: model_id -> cause."""
    columns = rates.columns
    rate, code = F.col(n.TAKE_RATE), F.col(n.OPTION_CODE)
    family_total = F.sum(F.when(F.col(n.FAMILY).isNotNull(), rate)).over(
        Window.partitionBy(n.MODEL_ID, n.MONTH_START, n.FAMILY))
    joined = (rates.transform(lambda df: mark_known(df, n.MODEL_ID, models, "_model_known"))
              .withColumn("_family_total", family_total)
              .transform(lambda df: with_blocked_cause(df, blocked)))
    checks = [
        Check(n.UNKNOWN_MODEL, ~F.col("_model_known"), fmt("model_id '%s' is not a valid model", F.col(n.MODEL_ID))),
        _month_check(F.col(n.MONTH_START)),
        date_check(n.MONTH_START),
        Check(n.MALFORMED_OPTION_CODE, ~F.coalesce(code.rlike(f"^{CODE_PATTERN.pattern}$"), F.lit(False)),
              fmt("option_code '%s' is outside [A-Z0-9]{2,12}", code)),
        Check(n.TAKE_RATE_OUT_OF_RANGE, rate.isNull() | (rate < 0) | (rate > 1),
              fmt("take_rate %s is outside [0, 1]", rate)),
        Check(n.FAMILY_OVER_ONE, F.col(n.FAMILY).isNotNull() & F.coalesce(F.col("_family_total") > 1, F.lit(False)),
              fmt("take rates of family %s sum to %s (> 1) for this model and month",
                  F.col(n.FAMILY), F.col("_family_total"))),
    ]
    return annotate(joined, n.OPTION_TAKE_RATES, checks, columns, last=blocked_check(n.OPTION_TAKE_RATES))


def check_volume_plan(plan: DataFrame, plants: list[str], models: list[str],
                      annotated_rates: DataFrame, blocked: dict[str, str]) -> DataFrame:
    """plants, models: the valid plant and model ids; blocked: model_id -> cause."""
    columns = plan.columns
    lost = (annotated_rates.where(F.col(REASON).isNotNull() & (F.col(REASON) != n.MODEL_BLOCKED))
            .groupBy(n.MODEL_ID, n.MONTH_START).agg(F.count(F.lit(1)).alias("_rates_lost")))
    joined = (plan
              .transform(lambda df: mark_known(df, n.PLANT_ID, plants, "_plant_known"))
              .transform(lambda df: mark_known(df, n.MODEL_ID, models, "_model_known"))
              .join(F.broadcast(lost), on=[n.MODEL_ID, n.MONTH_START], how="left")
              .transform(lambda df: with_blocked_cause(df, blocked)))
    units = F.col(n.PLANNED_UNITS)
    checks = [
        Check(n.UNKNOWN_PLANT, ~F.col("_plant_known"), fmt("plant_id '%s' is not a valid plant", F.col(n.PLANT_ID))),
        Check(n.UNKNOWN_MODEL, ~F.col("_model_known"), fmt("model_id '%s' is not a valid model", F.col(n.MODEL_ID))),
        _month_check(F.col(n.MONTH_START)),
        date_check(n.MONTH_START),
        Check(n.INVALID_PLANNED_UNITS, units.isNull() | (units < 0), fmt("planned_units %s is not >= 0", units)),
        Check(n.TAKE_RATES_QUARANTINED, F.col("_rates_lost").isNotNull(),
              fmt("%s option_take_rates row(s) of this model and month are quarantined", F.col("_rates_lost"))),
    ]
    return annotate(joined, n.VOLUME_PLAN, checks, columns, last=blocked_check(n.VOLUME_PLAN))
