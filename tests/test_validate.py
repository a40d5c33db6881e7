"""Every contract check finds its bad row, and nothing is lost: clean + problem rows = rows read."""

from datetime import date

from schemas import names as n
from tests.builders import DAY, Case, edge, order, part
from transforms.screen import screen


def bad_case() -> Case:
    parts = [part("ASM", "assembly"), part("BUY"), part("BUY2"), part("PH", "phantom"),
             part("DUP"), part("DUP"),                                        # duplicate_key (both rows)
             part("ODD", "gizmo"),                                            # unknown_part_type
             part("NOSUP", supplier=None),                                    # purchased_without_supplier
             part("LATE", "assembly", lead=-1),                               # invalid_lead_time
             part("PCS", unit="PCS")]                                         # unknown_unit
    bom = [edge("M1", "ASM", bom_item_id="OK1"), edge("ASM", "BUY", bom_item_id="OK2"),
           edge("M1", "PH", bom_item_id="OK3"), edge("PH", "BUY", bom_item_id="OK4"),
           edge("NOWHERE", "BUY", bom_item_id="B-PARENT"),                   # unknown_parent
           edge("ASM", "GHOST", bom_item_id="B-CHILD"),                      # unknown_child
           edge("ASM", "ODD", bom_item_id="B-CHILD-BAD"),                    # child is a quarantined part
           edge("BUY", "BUY2", bom_item_id="B-PURCH"),                       # purchased_parent
           edge("M1", "BUY", "0", bom_item_id="B-QTY"),                      # non_positive_quantity
           edge("M1", "BUY", scrap="100", bom_item_id="B-SCRAP"),            # scrap_out_of_range
           edge("M1", "BUY", valid_from=DAY, valid_to=DAY, bom_item_id="B-VALID"),  # invalid_validity
           edge("M1", "BUY", rule="AA &| BB", bom_item_id="B-RULE"),         # invalid_rule
           edge("ASM", "PH", bom_item_id="B-CYC1"), edge("PH", "ASM", bom_item_id="B-CYC2"),  # cycle
           edge("M1", "BUY", rule="(" * 500 + "AA" + ")" * 500, bom_item_id="B-DEEP"),  # invalid_rule, no RecursionError
           edge("M1", "BUY", rule=" | ".join(f"C{i:02d}" for i in range(17)), bom_item_id="B-WIDE"),  # 17 codes
           edge("M1", "BUY", "12345678901", bom_item_id="B-BIG"),           # quantity_too_large
           edge("M1", "BUY", valid_from=date(1999, 12, 31), bom_item_id="B-OLD")]  # date_out_of_range
    orders = [order("O-OK", "M1", ["AA"]),
              order("O-PLANT", "M1", plant="NOPE"), order("O-MODEL", "NOPE"),
              order("O-QTY", "M1", quantity=0), order("O-DATE", "M1", day=None),
              order("O-CODE", "M1", ["AA", "bad code"]),
              order("O-DUP", "M1"), order("O-DUP", "M1"),
              order("O-FAR", "M1", day=date(2101, 1, 1)),                    # date_out_of_range
              {**order("O-NOOPT", "M1"), "option_codes": None}]              # missing_option_codes
    case = Case(parts=parts, bom_items=bom, production_orders=orders)
    case.plants = [{"plant_id": "P1", "name": "P1", "country": "DE", "bpns": None}]
    case.vehicle_models = [{"model_id": "M1", "brand": "B", "name": "M1"}]
    return case


def test_each_reason_is_found(spark):
    validated = screen(bad_case().frames(spark), max_rule_terms=4096)
    found = {(r.table_name, r.row_key, r.reason) for r in validated.problems.collect()}
    # M1 reaches quarantined bom_items, so its one otherwise clean order is model_blocked
    assert {f for f in found if f[2] == n.MODEL_BLOCKED} == {(n.PRODUCTION_ORDERS, "O-OK", n.MODEL_BLOCKED)}
    assert {f for f in found if f[2] != n.MODEL_BLOCKED} == {
        (n.PARTS, "DUP", n.DUPLICATE_KEY), (n.PARTS, "ODD", n.UNKNOWN_PART_TYPE),
        (n.PARTS, "NOSUP", n.PURCHASED_WITHOUT_SUPPLIER), (n.PARTS, "LATE", n.INVALID_LEAD_TIME),
        (n.BOM_ITEMS, "B-PARENT", n.UNKNOWN_PARENT), (n.BOM_ITEMS, "B-CHILD", n.UNKNOWN_CHILD),
        (n.BOM_ITEMS, "B-CHILD-BAD", n.UNKNOWN_CHILD), (n.BOM_ITEMS, "B-PURCH", n.PURCHASED_PARENT),
        (n.BOM_ITEMS, "B-QTY", n.NON_POSITIVE_QUANTITY), (n.BOM_ITEMS, "B-SCRAP", n.SCRAP_OUT_OF_RANGE),
        (n.BOM_ITEMS, "B-VALID", n.INVALID_VALIDITY), (n.BOM_ITEMS, "B-RULE", n.INVALID_RULE),
        (n.BOM_ITEMS, "B-CYC1", n.CYCLE), (n.BOM_ITEMS, "B-CYC2", n.CYCLE),
        (n.PRODUCTION_ORDERS, "O-PLANT", n.UNKNOWN_PLANT), (n.PRODUCTION_ORDERS, "O-MODEL", n.UNKNOWN_MODEL),
        (n.PRODUCTION_ORDERS, "O-QTY", n.INVALID_QUANTITY), (n.PRODUCTION_ORDERS, "O-DATE", n.MISSING_DATE),
        (n.PRODUCTION_ORDERS, "O-CODE", n.MALFORMED_OPTION_CODE), (n.PRODUCTION_ORDERS, "O-DUP", n.DUPLICATE_KEY),
        (n.PARTS, "PCS", n.UNKNOWN_UNIT), (n.BOM_ITEMS, "B-DEEP", n.INVALID_RULE), (n.BOM_ITEMS, "B-WIDE", n.INVALID_RULE),
        (n.BOM_ITEMS, "B-BIG", n.QUANTITY_TOO_LARGE), (n.BOM_ITEMS, "B-OLD", n.DATE_OUT_OF_RANGE),
        (n.PRODUCTION_ORDERS, "O-FAR", n.DATE_OUT_OF_RANGE), (n.PRODUCTION_ORDERS, "O-NOOPT", n.MISSING_OPTION_CODES),
    }


def test_lookups_too_large_for_a_literal_find_the_same_problems(spark, monkeypatch):
    """Valid plants and models, blocked models, invalid rules and cycle edges are looked up from the driver:
    as map literals up to MAX_LITERAL_KEYS entries, broadcast-joined beyond. Both give the same rows."""
    from transforms import row_checks

    def problems():
        validated = screen(bad_case().frames(spark), max_rule_terms=4096)
        return sorted((r.table_name, r.row_key, r.reason, r.detail) for r in validated.problems.collect())

    literal = problems()
    monkeypatch.setattr(row_checks, "MAX_LITERAL_KEYS", 0)
    joined = problems()
    assert joined == literal
    assert {(t, k, r) for t, k, r, _ in literal} >= {
        (n.PRODUCTION_ORDERS, "O-PLANT", n.UNKNOWN_PLANT), (n.PRODUCTION_ORDERS, "O-MODEL", n.UNKNOWN_MODEL),
        (n.PRODUCTION_ORDERS, "O-OK", n.MODEL_BLOCKED), (n.BOM_ITEMS, "B-RULE", n.INVALID_RULE),
        (n.BOM_ITEMS, "B-CYC1", n.CYCLE)}


def test_clean_plus_problem_rows_equal_rows_read(spark):
    case = bad_case()
    frames = case.frames(spark)
    validated = screen(frames, max_rule_terms=4096)
    for table, rows in case.rows().items():
        problem_rows = validated.problems.where(f"table_name = '{table}'").count()
        assert validated.used[table].count() + problem_rows == len(rows), table


def test_problem_rows_carry_the_whole_raw_row(spark):
    validated = screen(bad_case().frames(spark), max_rule_terms=4096)
    row = validated.problems.where("row_key = 'B-RULE'").first()
    assert '"rule":"AA &| BB"' in row.raw_json and '"bom_item_id":"B-RULE"' in row.raw_json
    assert "AA &| BB" in row.detail


def test_a_row_failing_several_checks_is_one_problem_row_naming_each(spark):
    case = bad_case()
    case.bom_items.append(edge("M1", "BUY", "-1", scrap="150", bom_item_id="B-TWICE"))
    rows = screen(case.frames(spark), max_rule_terms=4096).problems.where("row_key = 'B-TWICE'").collect()
    assert len(rows) == 1 and rows[0].reason == n.NON_POSITIVE_QUANTITY
    assert n.SCRAP_OUT_OF_RANGE in rows[0].detail and "150" in rows[0].detail


def test_driver_built_tables_round_trip_exactly_and_never_need_a_python_worker(spark):
    """local_frame (rules, blocked models, probabilities): the same rows as spark.createDataFrame, types
    included, but planned in the JVM (a createDataFrame frame is a Python RDD, re-run by every reader)."""
    from decimal import Decimal
    from pyspark.sql import Row
    from pyspark.sql.types import (ArrayType, DateType, DecimalType, LongType, StringType, StructField,
                                   StructType)
    from transforms.local import local_frame

    term = StructType([StructField("pos", ArrayType(StringType())), StructField("neg", ArrayType(StringType()))])
    schema = StructType([StructField("key", StringType()), StructField("p", DecimalType(38, 18)),
                         StructField("day", DateType()), StructField("terms", ArrayType(term)),
                         StructField("big", LongType())])
    rows = [("A & !B", Decimal("0.123456789012345678"), date(2026, 3, 2),
             [Row(pos=["A"], neg=["B"]), {"pos": [], "neg": ["C"]}], 12345678901234),
            ('quote " backslash \\ é', Decimal("12345678901234567890.5"), date(2100, 12, 31), [], -1),
            (None, None, None, None, None)]
    made = local_frame(spark, rows, schema)
    classic = spark.createDataFrame([(k, p, d, [tuple(t.values()) if isinstance(t, dict) else t for t in ts]
                                      if ts is not None else None, b) for k, p, d, ts, b in rows], schema)
    assert [f.dataType for f in made.schema.fields] == [f.dataType for f in schema.fields]
    assert made.collect() == classic.collect()
    plan = made._jdf.queryExecution().executedPlan().toString()
    assert "Scan ExistingRDD" not in plan and "PythonRDD" not in plan, plan
    assert "Scan ExistingRDD" in classic._jdf.queryExecution().executedPlan().toString()   # what it avoids
