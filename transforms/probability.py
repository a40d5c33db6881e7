"""P(rule) under one (model, month)'s option take rates, exact (contract §Long-term plan).

Codes of one family are mutually exclusive (at most one per car, their rates sum
to <= 1); codes without a family are independent; a code without a take-rate
row is never taken. A rule only depends on the codes it names, so P(rule) is a
finite sum over their joint outcomes: per family named in the rule, "one of its
named codes, or none of them" (the rest of the family, or no code, lumped
together), and per named free code, "taken or not". Each outcome's probability
is a product of rates, and the rule is evaluated on it with its DNF. Fractions
keep it exact; the result is rounded once, at 1e-19 (quantities.PROBABILITY).

This runs on the driver over two small tables (distinct rules x distinct
(model, month) of the plan) and gives a small table the explosion joins to:
no per-row Python on the executors.
"""
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction
from itertools import product

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from schemas import names as n
from schemas import quantities as q
from transforms.local import local_frame
from transforms.rules import Term

MAX_OUTCOMES = 1 << 20
_ROUND = Decimal(1).scaleb(-q.PROBABILITY.scale)


class ProbabilityError(ValueError):
    """A rule names too many independent codes to enumerate."""


@dataclass
class TakeRates:
    """The take rates of one (model, month)."""
    families: dict[str, dict[str, Fraction]] = field(default_factory=dict)   # family -> code -> rate
    free: dict[str, Fraction] = field(default_factory=dict)                  # code without family -> rate

    def add(self, code: str, family: str | None, rate) -> None:
        if family is None:
            self.free[code] = Fraction(rate)
        else:
            self.families.setdefault(family, {})[code] = Fraction(rate)

    def family_of(self, code: str) -> str | None:
        return next((f for f, codes in self.families.items() if code in codes), None)

    def rate(self, code: str) -> Fraction | None:
        family = self.family_of(code)
        return self.free.get(code) if family is None else self.families[family][code]


def holds(terms: tuple[Term, ...], chosen: frozenset) -> bool:
    return any(pos <= chosen and not (neg & chosen) for pos, neg in terms)


def _outcomes(codes: set[str], rates: TakeRates) -> list[list[tuple[frozenset, Fraction]]]:
    """Per independent variable of the rule: its outcomes as (codes taken, probability)."""
    variables = []
    by_family: dict[str, list[str]] = {}
    for code in sorted(codes):
        family = rates.family_of(code)
        if family is not None:
            by_family.setdefault(family, []).append(code)
        elif code in rates.free:
            rate = rates.free[code]
            variables.append([(frozenset([code]), rate), (frozenset(), 1 - rate)])
        # a code without a take-rate row is never taken: no variable, always absent
    for family, named in sorted(by_family.items()):
        family_rates = rates.families[family]
        named_total = sum(family_rates[c] for c in named)
        variables.append([(frozenset([c]), family_rates[c]) for c in named] + [(frozenset(), 1 - named_total)])
    return variables


def rule_probability(terms: tuple[Term, ...], rates: TakeRates) -> Fraction:
    """Exact P(rule); terms is the rule's DNF (rules.to_dnf)."""
    codes = set()
    for pos, neg in terms:
        codes |= pos | neg
    variables = _outcomes(codes, rates)
    size = 1
    for outcomes in variables:
        size *= len(outcomes)
    if size > MAX_OUTCOMES:
        raise ProbabilityError(f"a rule over {sorted(codes)} has {size} joint outcomes (limit {MAX_OUTCOMES})")
    total = Fraction(0)
    for combo in product(*variables):
        p = Fraction(1)
        chosen = frozenset()
        for taken, probability in combo:
            p *= probability
            chosen |= taken
        if p and holds(terms, chosen):
            total += p
    return total


def to_decimal(p: Fraction) -> Decimal:
    exact = Context(prec=60).divide(Decimal(p.numerator), Decimal(p.denominator))
    return exact.quantize(_ROUND)


PROBABILITY_SCHEMA = StructType([
    StructField(n.RULE, StringType(), False), StructField(n.MODEL_ID, StringType(), False),
    StructField(n.PRODUCTION_DATE, DateType(), False), StructField(n.RULE_PROBABILITY, q.PROBABILITY, False)])


def rule_probabilities(spark, rule_terms: dict, take_rates: DataFrame, contexts: list[tuple],
                       rules_of_model: dict[str, list[str]]) -> DataFrame:
    """(rule, model_id, production_date, rule_probability > 0) per valid rule and (model_id, production_date) of contexts.

    rule_terms: rule key -> its DNF terms (pos, neg), as the screen collected them; take_rates: clean
    option_take_rates rows; contexts: the (model_id, production_date = a plan month) pairs, on the driver;
    rules_of_model: the rule keys each model's BOM reaches (screen.Screened.rules_of_model); with the
    always-true key "" they are the only ones its plan explosion looks up. One job: the take rates of the
    planned models, collected.

    Only a model's own rules are evaluated: with thousands of rules over a dozen models, evaluating every rule
    in every (model, month) cost seconds of driver time and a weights table ten times larger than needed.
    """
    wanted = set(contexts)
    models = sorted({model for model, _ in wanted})
    rows = (take_rates.where(F.col(n.MODEL_ID).isin(*models))
            .select(n.MODEL_ID, n.MONTH_START, n.OPTION_CODE, n.FAMILY, n.TAKE_RATE).collect())
    by_context: dict[tuple, TakeRates] = {key: TakeRates() for key in wanted}
    for r in rows:
        if (r[n.MODEL_ID], r[n.MONTH_START]) in by_context:
            by_context[(r[n.MODEL_ID], r[n.MONTH_START])].add(r[n.OPTION_CODE], r[n.FAMILY], r[n.TAKE_RATE])
    dnf = {rule: tuple((frozenset(t["pos"]), frozenset(t["neg"])) for t in terms) for rule, terms in rule_terms.items()}
    memo: dict[tuple, Decimal] = {}
    out = []
    for (model, month), rates in sorted(by_context.items()):
        for rule in sorted({"", *rules_of_model.get(model, ())} & dnf.keys()):
            terms = dnf[rule]
            named = sorted({c for pos, neg in terms for c in pos | neg})
            key = (rule, tuple((c, rates.family_of(c), rates.rate(c)) for c in named))   # all P(rule) depends on
            if key not in memo:
                memo[key] = to_decimal(rule_probability(terms, rates))
            if memo[key] > 0:
                out.append((rule, model, month, memo[key]))
    return local_frame(spark, out, PROBABILITY_SCHEMA)
