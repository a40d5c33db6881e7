"""Option rules: parsed once on the driver, evaluated by one Spark Column expression.

Grammar (data contract): CODE ([A-Z0-9]{2,12}), `!x`, `x & y`, `x | y`, parentheses;
precedence ! > & > |. Null or blank means always.

Each distinct rule is parsed into disjunctive normal form: a list of terms, each
term a set of codes that must be present (`pos`) and codes that must be absent
(`neg`). The DNF travels with the BOM edge as data (array<struct<pos, neg>>), so
one fixed, UDF-free expression evaluates every rule:

    exists(terms, t -> forall(t.pos, c -> array_contains(options, c))
                       and not exists(t.neg, c -> array_contains(options, c)))
"""
import re
from dataclasses import dataclass
from itertools import product
from typing import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from schemas import names as n
from transforms.local import local_frame

RULE_TERMS_TYPE = ArrayType(StructType([
    StructField("pos", ArrayType(StringType(), False), False),
    StructField("neg", ArrayType(StringType(), False), False),
]), False)

CODE_PATTERN = re.compile(r"[A-Z0-9]{2,12}")
_TOKEN = re.compile(r"\s*(?:([A-Za-z0-9_]+)|(.))")

Term = tuple[frozenset, frozenset]  # (codes present, codes absent)
ALWAYS: tuple[Term, ...] = ((frozenset(), frozenset()),)


class RuleError(ValueError):
    """A rule that is not in the contract's grammar (or too large to expand)."""


@dataclass(frozen=True)
class _Node:
    op: str            # "code", "not", "and", "or"
    args: tuple = ()
    code: str = ""


def _tokens(text: str) -> list[str]:
    out = []
    for word, symbol in _TOKEN.findall(text):
        if word:
            if not CODE_PATTERN.fullmatch(word):
                raise RuleError(f"'{word}' is not an option code ([A-Z0-9]{{2,12}})")
            out.append(word)
        elif symbol.strip():
            if symbol not in "!&|()":
                raise RuleError(f"unexpected character '{symbol}'")
            out.append(symbol)
    return out


class _Parser:
    def __init__(self, tokens: list[str]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.pos += 1
        return token

    def binary(self, symbol: str, op: str, operand) -> _Node:
        args = [operand()]
        while self.peek() == symbol:
            self.take()
            args.append(operand())
        return args[0] if len(args) == 1 else _Node(op, tuple(args))

    def disjunction(self) -> _Node:
        return self.binary("|", "or", self.conjunction)

    def conjunction(self) -> _Node:
        return self.binary("&", "and", self.negation)

    def negation(self) -> _Node:
        if self.peek() == "!":
            self.take()
            return _Node("not", (self.negation(),))
        return self.atom()

    def atom(self) -> _Node:
        token = self.take()
        if token == "(":
            inner = self.disjunction()
            if self.take() != ")":
                raise RuleError("missing ')'")
            return inner
        if token is None:
            raise RuleError("rule ends where an option code was expected")
        if token in "!&|)":
            raise RuleError(f"'{token}' where an option code was expected")
        return _Node("code", code=token)


def parse(text: str | None) -> _Node | None:
    """The rule's syntax tree, None for an always-true (null or blank) rule."""
    if text is None or not text.strip():
        return None
    parser = _Parser(_tokens(text))
    tree = parser.disjunction()
    if parser.peek() is not None:
        raise RuleError(f"unexpected '{parser.peek()}' after a complete expression")
    return tree


def _and(left: tuple[Term, ...], right: tuple[Term, ...]) -> tuple[Term, ...]:
    terms = {(p1 | p2, n1 | n2) for (p1, n1), (p2, n2) in product(left, right)}
    return tuple(t for t in terms if not t[0] & t[1])  # drop contradictions like A & !A


def _dnf(node: _Node, negate: bool, max_terms: int) -> tuple[Term, ...]:
    if node.op == "code":
        lit = frozenset([node.code])
        return ((frozenset(), lit),) if negate else ((lit, frozenset()),)
    if node.op == "not":
        return _dnf(node.args[0], not negate, max_terms)
    parts = [_dnf(arg, negate, max_terms) for arg in node.args]
    conjunctive = (node.op == "and") != negate  # De Morgan
    result = parts[0]
    for part in parts[1:]:
        result = _and(result, part) if conjunctive else tuple(set(result) | set(part))
        if len(result) > max_terms:
            raise RuleError(f"rule expands to more than {max_terms} terms")
    return result


MAX_RULE_CHARS = 2000   # longer rule text is refused before parsing
MAX_RULE_DEPTH = 64     # nesting of parentheses and negations
MAX_RULE_CODES = 16     # distinct codes: the plan's exact P(rule) enumerates up to 2^16 joint outcomes


def _check_size(text: str) -> None:
    """Refuse rules the recursive parser and the DNF should not be asked to take (clear reasons, no RecursionError)."""
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(f"rule is {len(text)} characters long (limit {MAX_RULE_CHARS})")
    parens = negations = deepest = 0
    for token in _tokens(text):
        if token == "(":
            parens += 1
        elif token == ")":
            parens -= 1
        elif token == "!":
            negations += 1
        else:   # a code or an operator ends a run of negations
            negations = 0
        deepest = max(deepest, parens + negations)
    if deepest > MAX_RULE_DEPTH:
        raise RuleError(f"rule is nested {deepest} levels deep (limit {MAX_RULE_DEPTH})")


def to_dnf(text: str | None, max_terms: int = 4096) -> tuple[Term, ...]:
    """The rule as DNF terms; () means never true, ALWAYS for a null/blank rule."""
    if text is not None:
        _check_size(text)
    try:
        tree = parse(text)
        if tree is None:
            return ALWAYS
        terms = _dnf(tree, False, max_terms)
    except RecursionError:
        raise RuleError(f"rule is nested too deeply to parse (limit {MAX_RULE_DEPTH})") from None
    codes = {code for pos, neg in terms for code in pos | neg}
    if len(codes) > MAX_RULE_CODES:
        raise RuleError(f"rule names {len(codes)} distinct codes (limit {MAX_RULE_CODES}: the plan's exact "
                        "probability enumerates every joint outcome of them)")
    return tuple(sorted(terms, key=lambda t: (sorted(t[0]), sorted(t[1]))))


def rule_key(rule: Column) -> Column:
    """The join key of a rule: null and blank rules share the empty key."""
    return F.coalesce(F.trim(rule), F.lit(""))


def rule_numbers(valid_keys: Iterable[str]) -> dict[str, int]:
    """The number of each valid rule key in one run: 1, 2, ... in key order; the empty key (no rule) has none.
    The order explosion's frontier carries these (4 bytes each) instead of the keys (about 24 bytes each
    at the realistic profile, in every frontier row's array); the same keys get the same numbers."""
    return {key: i for i, key in enumerate(sorted(k for k in set(valid_keys) if k != ""), start=1)}


def rule_table(spark, rule_keys: Iterable[str], max_terms: int) -> tuple[DataFrame, list[tuple[str, str]]]:
    """Parse every distinct rule once (`rule_keys`: rule_key of each BOM row, collected with the BOM).

    Returns a small DataFrame (rule, rule_terms, rule_number) for the valid rules, keyed by
    `rule_key`, and the list of (rule, reason) of the invalid ones.
    """
    valid, invalid = [], []
    for text in sorted(set(rule_keys)):
        try:
            terms = to_dnf(text, max_terms)
        except RuleError as err:
            invalid.append((text, str(err)))
            continue
        valid.append((text, [{"pos": sorted(p), "neg": sorted(q)} for p, q in terms]))
    numbers = rule_numbers(text for text, _ in valid)
    schema = StructType([StructField(n.RULE, StringType(), False), StructField(n.RULE_TERMS, RULE_TERMS_TYPE, False),
                         StructField(n.RULE_NUMBER, IntegerType(), True)])
    return local_frame(spark, [(text, terms, numbers.get(text)) for text, terms in valid], schema), invalid


def rule_holds(terms: Column, options: Column) -> Column:
    """True when the option set `options` satisfies the DNF `terms`."""
    def term_holds(term: Column) -> Column:
        present = F.forall(term["pos"], lambda code: F.array_contains(options, code))
        absent = ~F.exists(term["neg"], lambda code: F.array_contains(options, code))
        return present & absent
    return F.exists(terms, term_holds)
