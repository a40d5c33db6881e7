"""The compiled rule kernel (transforms/compiled_rules.py) against Spark's higher-order-function definition
and against the Python evaluator of the reference, on hand-made rules and on the realistic profile."""
import random
from datetime import date, timedelta

from pyspark.sql import functions as F

from pipeline import realistic
from schemas import names as n
from tests.reference import rule_true
from transforms.compiled_rules import compile_models, with_rule_outcomes
from transforms.rules import rule_table
from transforms.signatures import epoch_expression, model_rules, true_rules_expression

START = date(2026, 3, 2)


def outcomes(spark, orders: list[tuple], structure: list[dict], models: list[str]):
    """(order_id -> (epoch, true_rules)) by the kernel and by the expression, and the model rules frame. The
    kernel's rule_numbers (the explosion's key) are checked here to be its true rules' numbers, ascending."""
    terms_frame, invalid = rule_table(spark, [r[n.RULE] for r in structure], 4096)
    assert not invalid
    valid = terms_frame.collect()
    terms = {r[n.RULE]: r[n.RULE_TERMS] for r in valid}
    number = {r[n.RULE]: r[n.RULE_NUMBER] for r in valid}
    keys = sorted(k for k in number if k != "")
    assert [number[k] for k in keys] == list(range(1, len(keys) + 1)) and number.get("") is None   # 1.. in key order
    rules = model_rules(spark, structure, terms, models)
    frame = spark.createDataFrame(orders, "order_id string, model_id string, production_date date, option_codes array<string>")
    kernel = with_rule_outcomes(frame, compile_models(rules.collect())).localCheckpoint(eager=True)
    for row in kernel.select(n.TRUE_RULES, n.RULE_NUMBERS).collect():
        assert list(row[n.RULE_NUMBERS]) == [number[k] for k in row[n.TRUE_RULES]] == sorted(row[n.RULE_NUMBERS])
    expression = (frame.join(F.broadcast(rules), on=n.MODEL_ID)
                  .select(n.ORDER_ID, epoch_expression(F.col(n.PRODUCTION_DATE)).alias(n.EPOCH),
                          true_rules_expression(F.col(n.OPTION_CODES)).alias(n.TRUE_RULES)))
    as_dict = lambda df: {r[n.ORDER_ID]: (r[n.EPOCH], list(r[n.TRUE_RULES])) for r in df.collect()}
    return as_dict(kernel.select(n.ORDER_ID, n.EPOCH, n.TRUE_RULES)), as_dict(expression), rules


def edge(parent, child, rule, vfrom=None, vto=None):
    return {n.PARENT_ID: parent, n.CHILD_ID: child, n.RULE: rule, n.VALID_FROM: vfrom, n.VALID_TO: vto}


def test_kernel_equals_the_expression_and_the_python_evaluator_on_every_option_set(spark):
    """Two models, rules with negation, nesting, contradictions and codes no order carries; every subset of
    the codes; dates on both sides of each boundary. Planted: a kernel that ignores `neg` fails here."""
    rules = ["AA", "!AA", "AA & BB", "AA | BB & CC", "(AA | BB) & CC", "!(AA | BB) & !CC", "AA & !AA",
             "!(AA & (BB | !CC)) | DD", "ZZ", "!ZZ"]
    switch = START + timedelta(days=5)
    structure = [edge("M1", f"P{i}", rule) for i, rule in enumerate(rules)] + [
        edge("M1", "ASSY", ""), edge("ASSY", "DEEP", "DD & !BB", vfrom=switch), edge("M2", "Q", "BB", vto=switch)]
    codes = ["AA", "BB", "CC", "DD", "EE"]
    subsets = [[c for k, c in enumerate(codes) if mask >> k & 1] for mask in range(1 << len(codes))]
    orders = [(f"O{m}{i}{d}", m, START + timedelta(days=d), opts)
              for m in ("M1", "M2") for i, opts in enumerate(subsets) for d in (0, 5, 9)]
    kernel, expression, _ = outcomes(spark, orders, structure, ["M1", "M2"])
    assert kernel == expression and len(kernel) == len(orders)
    own = {"M1": sorted({r for r in rules} | {"DD & !BB"}), "M2": ["BB"]}
    for order_id, model, day, opts in orders:
        epoch, true_rules = kernel[order_id]
        assert true_rules == [r for r in own[model] if rule_true(r, set(opts))], (model, opts)
        assert epoch == (1 if day >= switch else 0)


def test_kernel_equals_the_expression_on_realistic_orders(spark):
    """The realistic profile's rules (hundreds per model, 1-4 codes each) on random cars of 80-150 codes."""
    shape = realistic.Shape(positions=800, depth=5)
    net = realistic.network(11, START, 28, shape)
    structure = [{n.PARENT_ID: b[1], n.CHILD_ID: b[2], n.RULE: (b[8] or "").strip(), n.VALID_FROM: b[5],
                  n.VALID_TO: b[6]} for b in net.bom]
    models = sorted(net.free)[:4]
    rnd = random.Random(5)
    orders = []
    for i in range(400):
        model = models[i % len(models)]
        opts = [rnd.choice(list(codes)) for codes in net.families[model].values()]
        opts += [c for c, rate in net.free[model].items() if rnd.random() < rate]
        orders.append((f"O{i:04d}", model, START + timedelta(days=rnd.randrange(28)), sorted(opts)))
    kernel, expression, rules = outcomes(spark, orders, structure, models)
    assert kernel == expression and len(kernel) == len(orders)
    per_model = {r[n.MODEL_ID]: len(r["model_rules"]) for r in rules.collect()}
    assert min(per_model.values()) > 50, per_model        # the test means something: many rules per model
    held = [len(t) for _, t in kernel.values()]
    assert 0 < min(held) and max(held) < min(per_model.values())
    assert len({e for e, _ in kernel.values()}) > 1        # phase-in/out boundaries inside the window


def test_one_kernel_pass_gives_every_order_its_signature_and_a_shared_id_stops_the_run(spark, monkeypatch):
    """order_signatures: the dated rows and signatures equal a plain-Python grouping of the kernel's outcomes,
    each order's signature id is its key's; an id shared by two keys (planted: a constant id) is an error."""
    import pytest

    from transforms import signatures as sig

    rules = ["AA", "!AA & BB", "CC | DD"]
    structure = [edge("M1", f"P{i}", rule) for i, rule in enumerate(rules)] + [edge("M1", "Q", "EE", vfrom=START)]
    terms_frame, _ = rule_table(spark, [r[n.RULE] for r in structure], 4096)
    model = model_rules(spark, structure, {r[n.RULE]: r[n.RULE_TERMS] for r in terms_frame.collect()}, ["M1"])
    rng = random.Random(7)
    orders = [(f"O{i}", rng.choice(["P1", "P2"]), "M1", START + timedelta(days=rng.choice([-1, 0, 3])),
               rng.sample(["AA", "BB", "CC", "DD", "EE", "FF"], rng.randint(0, 4)), rng.randint(1, 3))
              for i in range(300)]
    frame = spark.createDataFrame(orders, "order_id string, plant_id string, model_id string, production_date date, "
                                          "option_codes array<string>, quantity int")
    found = sig.order_signatures(frame, model)

    key = {}
    for order_id, plant, _, day, opts, _ in orders:
        true = tuple(r for r in rules + ["EE"] if rule_true(r, set(opts)))
        key[order_id] = (plant, "M1", int(day >= START), true)
    dated: dict = {}
    for order_id, plant, _, day, _, qty in orders:
        total, count = dated.get((key[order_id], day), (0, 0))
        dated[(key[order_id], day)] = (total + qty, count + 1)
    ids = {r[n.ORDER_ID]: r[n.SIGNATURE_ID] for r in found.signed.collect()}
    assert len(ids) == len(orders) and len(set(ids.values())) == len(set(key.values())) == found.count
    assert all((ids[a] == ids[b]) == (key[a] == key[b]) for a in ids for b in list(ids)[:20])
    rows = found.dated.collect()
    assert {(next(k for o, k in key.items() if ids[o] == r[n.CONFIG_ID]), r[n.PRODUCTION_DATE]):
            (int(r[n.CONFIG_QUANTITY]), r["orders"]) for r in rows} == dated
    assert found.dated_count == len(dated) and found.orders == len(orders)
    signatures = {r[n.CONFIG_ID]: r for r in found.signatures.collect()}
    assert all(signatures[ids[o]][n.PRODUCTION_DATE] == min(day for (k, day) in dated if k == key[o]) for o in ids)
    assert all((signatures[ids[o]][n.PLANT_ID], signatures[ids[o]][n.MODEL_ID], signatures[ids[o]][n.TRUE_RULES])
               == (key[o][0], key[o][1], sorted(key[o][3])) for o in ids)   # the keys, in key order

    monkeypatch.setattr(sig, "signature_id", lambda: F.lit(1).cast("long"))
    with pytest.raises(sig.SignatureCollision, match="1 variant signature id"):
        sig.order_signatures(frame, model)
