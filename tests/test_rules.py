"""Rule grammar: parsing, invalid rules, and the Spark expression against a Python evaluator."""
from itertools import combinations

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from tests.reference import rule_true
from transforms.rules import RULE_TERMS_TYPE, RuleError, rule_holds, to_dnf

RULES = ["AA", "!AA", "AA & BB", "AA | BB & CC", "(AA | BB) & CC", "!(AA | BB) & !CC", "!!AA",
         "AA & !AA", "!(AA & (BB | !CC)) | DD", "  AA|BB  ", "A1B2C3D4E5F6 | BB", None, "", "   "]
CODES = ["AA", "BB", "CC", "DD"]
ALL_OPTION_SETS = [list(c) for k in range(len(CODES) + 1) for c in combinations(CODES, k)]


@pytest.mark.parametrize("text", ["a1", "A", "AA &", "& AA", "AA BB", "(AA", "AA)", "AA && BB", "AA ^ BB",
                                  "ABCDEFGHIJKLM", "AA | | BB", "()", "!"])
def test_invalid_rules_are_reported_not_guessed(text):
    with pytest.raises(RuleError):
        to_dnf(text)


def test_rule_too_large_to_expand_is_reported():
    wide = " & ".join(f"(C{i}A | C{i}B)" for i in range(13))   # 2^13 terms
    with pytest.raises(RuleError, match="more than 4096 terms"):
        to_dnf(wide)


def test_spark_expression_agrees_with_python_on_every_option_set(spark):
    rows = [(r or "", [{"pos": sorted(p), "neg": sorted(n)} for p, n in to_dnf(r)], opts)
            for r in RULES for opts in ALL_OPTION_SETS]
    schema = StructType([StructField("rule", StringType()), StructField("terms", RULE_TERMS_TYPE),
                         StructField("options", ArrayType(StringType()))])
    df = spark.createDataFrame(rows, schema)
    got = {(r.rule, tuple(r.options)): r.holds
           for r in df.select("rule", "options", rule_holds(F.col("terms"), F.col("options")).alias("holds")).collect()}
    assert len(got) == len({r or "" for r in RULES}) * len(ALL_OPTION_SETS)
    for (rule, options), holds in got.items():
        assert holds == rule_true(rule, set(options)), (rule, options)
