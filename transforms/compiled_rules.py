"""Rules compiled to bit sets and evaluated per Arrow batch: an order's epoch and true rules (issue 14).

At a real car's variant density (80-150 option codes per car, hundreds of rules per model, nearly every
car its own configuration), testing each rule with Spark's interpreted higher-order functions
(exists/forall/array_contains per configuration, per rule, per term, per code) is the engine's largest
cost. Here each model's rules are compiled once on the driver:

  * the model's code dictionary: the codes its rules name, code -> column;
  * each DNF term a pair of column sets (codes present, codes absent);

and `mapInArrow` runs one numpy kernel per Arrow batch: the batch's option codes become a boolean
matrix (cars x dictionary codes, built from the flattened list column in one `index_in`), each term is
`all(present columns) and not any(absent columns)` over whole columns, and a rule holds when one of
its terms does. The epoch (how many effectivity boundaries of the model's edges lie on or before the
production date) is one `searchsorted`. No Python runs per row, and every executor runs the same
kernel (the compiled rules travel in the function's closure).

The result equals signatures.true_rules_expression row for row (tests/test_compiled_rules.py compares
the two on random and realistic data): true_rules lists the rule keys that hold, in the model's rule
order (sorted keys), so signature ids are the same whichever evaluates them.
"""
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from schemas import names as n


@dataclass(frozen=True)
class CompiledModel:
    codes: pa.Array                       # the dictionary: every code the model's rules name
    rules: pa.Array                       # rule keys, in the model's rule order
    numbers: pa.Array                     # their rule numbers (rules.rule_numbers: ascending in that order)
    terms: tuple                          # per rule: tuple of (present columns, absent columns) int arrays
    boundaries: np.ndarray                # sorted effectivity boundaries (datetime64[D])


def compile_models(rows: list) -> dict[str, CompiledModel]:
    """signatures.MODEL_RULES rows (collected: a few hundred rules per model) -> compiled models."""
    out = {}
    for row in rows:
        rules = row["model_rules"]
        codes = sorted({c for r in rules for t in r[n.RULE_TERMS] for c in (*t["pos"], *t["neg"])})
        column = {c: i for i, c in enumerate(codes)}
        terms = tuple(tuple((np.array([column[c] for c in t["pos"]], dtype=np.int64),
                             np.array([column[c] for c in t["neg"]], dtype=np.int64)) for t in r[n.RULE_TERMS])
                      for r in rules)
        out[row[n.MODEL_ID]] = CompiledModel(pa.array(codes, pa.string()), pa.array([r[n.RULE] for r in rules], pa.string()),
                                              pa.array([r[n.RULE_NUMBER] for r in rules], pa.int32()),
                                              terms, np.array(sorted(row["boundaries"]), dtype="datetime64[D]"))
    return out


def _holds(model: CompiledModel, options: pa.ListArray) -> np.ndarray:
    """cars x rules: does rule r hold for car i (options: the cars' option code lists)."""
    cars = len(options)
    present = np.zeros((cars, max(1, len(model.codes))), dtype=bool)
    flat = pc.list_flatten(options)
    if len(flat) and len(model.codes):
        column = pc.index_in(flat, value_set=model.codes)        # null: a code no rule of the model names
        car = pc.list_parent_indices(options)
        known = pc.is_valid(column)
        present[pc.filter(car, known).to_numpy(), pc.filter(column, known).to_numpy()] = True
    holds = np.zeros((cars, len(model.terms)), dtype=bool)
    for r, terms in enumerate(model.terms):
        for pos, neg in terms:
            term = np.ones(cars, dtype=bool) if len(pos) == 0 else present[:, pos].all(axis=1)
            if len(neg):
                term &= ~present[:, neg].any(axis=1)
            holds[:, r] |= term
    return holds


def evaluate(batch: pa.RecordBatch, models: dict[str, CompiledModel]) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(epoch, true_rules, rule_numbers) of every row of `batch` (columns model_id, production_date,
    option_codes): the rules that hold as keys and as numbers, both in the model's rule order."""
    rows = batch.num_rows
    model_ids = batch.column(n.MODEL_ID).to_numpy(zero_copy_only=False)
    days = batch.column(n.PRODUCTION_DATE).cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    options = batch.column(n.OPTION_CODES)
    epoch = np.zeros(rows, dtype=np.int32)
    counts = np.zeros(rows, dtype=np.int64)
    owners, names, numbers = [], [], []
    for model_id in np.unique(model_ids):
        model = models.get(model_id)
        if model is None:
            continue
        at = np.flatnonzero(model_ids == model_id)
        epoch[at] = np.searchsorted(model.boundaries, days[at], side="right")
        if not len(model.terms):
            continue
        car, rule = np.nonzero(_holds(model, options.take(pa.array(at))))   # row-major: rules in model order
        counts[at] = np.bincount(car, minlength=len(at))
        owners.append(at[car])
        held = pa.array(rule)
        names.append(pc.take(model.rules, held))
        numbers.append(pc.take(model.numbers, held))
    if owners:
        order = pa.array(np.argsort(np.concatenate(owners), kind="stable"))   # each row's rules stay in model order
        values, ids = pc.take(pa.concat_arrays(names), order), pc.take(pa.concat_arrays(numbers), order)
    else:
        values, ids = pa.array([], pa.string()), pa.array([], pa.int32())
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    return (pa.array(epoch, pa.int32()), pa.ListArray.from_arrays(offsets, values),
            pa.ListArray.from_arrays(offsets, ids))


def with_rule_outcomes(frame: DataFrame, models: dict[str, CompiledModel]) -> DataFrame:
    """frame + epoch (int) + true_rules (array<string>) + rule_numbers (array<int>), by the compiled kernel;
    rows of a model without compiled rules get epoch 0 and no true rules (callers join on the models first)."""
    schema = StructType(frame.schema.fields + [StructField(n.EPOCH, IntegerType(), False),
                                               StructField(n.TRUE_RULES, ArrayType(StringType(), False), False),
                                               StructField(n.RULE_NUMBERS, ArrayType(IntegerType(), False), False)])

    def kernel(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            epoch, true_rules, numbers = evaluate(batch, models)
            yield pa.RecordBatch.from_arrays([*batch.columns, epoch, true_rules, numbers], schema=pa.schema(
                [*batch.schema, pa.field(n.EPOCH, pa.int32(), False),
                 pa.field(n.TRUE_RULES, pa.list_(pa.field("element", pa.string(), False)), False),
                 pa.field(n.RULE_NUMBERS, pa.list_(pa.field("element", pa.int32(), False)), False)]))

    return frame.mapInArrow(kernel, schema)
