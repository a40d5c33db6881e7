"""The gates' rules and the night's entry, tested without a night (no Spark job, except the stage case)."""
import json

import pytest

from jobs import cli, nightly_demand
from pipeline.errors import Exit
from pipeline.gates import allowed_rows, count_checks, expectation, load_suites
from schemas import names as n


def _counts(read, used, quarantined):
    return {n.PRODUCTION_ORDERS: {"read": read, "used": used, "quarantined": quarantined}}


def test_reconciliation_that_does_not_add_up_fails_the_gate():
    assert count_checks(_counts(10, 10, 0), {}, 5).passed
    gate = count_checks(_counts(10, 9, 0), {}, 5)
    assert not gate.passed and "10 rows read != 9 used + 0 quarantined" in gate.failures[0]


def test_quarantine_share_counts_own_defects_only():
    blocked = {n.PRODUCTION_ORDERS: {n.MODEL_BLOCKED: 60, n.DUPLICATE_KEY: 5}}
    assert count_checks(_counts(100, 35, 65), blocked, 5).passed          # 5 % own defects: at the threshold
    over = {n.PRODUCTION_ORDERS: {n.MODEL_BLOCKED: 60, n.DUPLICATE_KEY: 6}}
    gate = count_checks(_counts(100, 34, 66), over, 5)
    assert not gate.passed and "6.0% of rows quarantined" in gate.failures[0]


def test_one_bad_row_of_a_small_table_does_not_fail_the_night():
    """A 12-row plan table with one bad row is 8 % quarantined: over 5 %, but within min_quarantined_rows."""
    plan = {n.VOLUME_PLAN: {"read": 12, "used": 11, "quarantined": 1}}
    bad = {n.VOLUME_PLAN: {n.DUPLICATE_KEY: 1}}
    assert not count_checks(plan, bad, 5).passed
    assert count_checks(plan, bad, 5, min_rows=1).passed
    two = {n.VOLUME_PLAN: {"read": 12, "used": 10, "quarantined": 2}}
    assert not count_checks(two, {n.VOLUME_PLAN: {n.DUPLICATE_KEY: 2}}, 5, min_rows=1).passed
    assert allowed_rows(12, 5, 1) == 1 and allowed_rows(1000, 5, 1) == 50 and allowed_rows(0, 5, 1) == 0


def _spec(kind, **kwargs):
    return {"type": kind, "kwargs": kwargs}


def test_the_threshold_is_the_mostly_of_every_map_expectation():
    """Column, multicolumn (compound keys: one duplicated plan key must not fail every plant) alike."""
    for spec in (_spec("expect_column_values_to_not_be_null", column="a"),
                 _spec("expect_column_values_to_be_in_set", column="a", value_set=["x"]),
                 _spec("expect_compound_columns_to_be_unique", column_list=["a", "b"])):
        assert expectation(spec, 0.95, None).kwargs["mostly"] == 0.95, spec["type"]
    assert "mostly" not in expectation(_spec("expect_table_row_count_to_be_between", min_value=1), 0.95, None).kwargs
    assert expectation(_spec("expect_column_values_to_not_be_null", column="a", mostly=0.5), 0.95, None).kwargs[
        "mostly"] == 0.5
    assert "mostly" not in expectation(_spec("expect_column_values_to_not_be_null", column="a"), 1.0, None).kwargs


def test_every_suite_expectation_of_the_input_gate_takes_the_threshold():
    for table, specs in load_suites("input").items():
        for spec in specs:
            resolved = expectation(spec, 0.9, lambda ref: ["resolved", ref])
            assert resolved.kwargs.get("mostly") == 0.9, (table, spec["type"])
            for key, value in spec["kwargs"].items():
                if isinstance(value, dict):
                    assert resolved.kwargs[key] == ["resolved", value["$ref"]]


def test_run_with_publishing_on_and_solr_down_says_so_before_reading(tmp_path, capfd):
    conf = tmp_path / "publish.yaml"
    conf.write_text(json.dumps({"solr": {"publish_on_run": True, "url": "http://127.0.0.1:9/solr"}}))
    assert cli.main(["run", "--source", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake"),
                     "--conf", str(conf)]) == Exit.PUBLISH_FAILED
    err = capfd.readouterr().err
    assert "Solr is not reachable at http://127.0.0.1:9/solr" in err and "--no-publish" in err
    assert "does not exist" not in err   # the source was not even looked at
    assert not (tmp_path / "lake").exists()


def test_spark_submit_entry_takes_the_same_arguments_as_bomflow_run(tmp_path, capfd):
    assert nightly_demand.main(["--source", str(tmp_path / "nope"), "--lake", str(tmp_path / "lake"),
                                "--no-publish"]) == 2
    assert "does not exist" in capfd.readouterr().err
    with pytest.raises(SystemExit):
        nightly_demand.main(["--source", "x", "--lake", "y", "--no-such-flag"])


def test_each_kind_of_failure_has_its_own_exit_code(capfd):
    from adapters.lease import LeaseHeld
    from adapters.solr import PublishError
    from pipeline.errors import BomflowError, GateFailed, guarded
    from pyspark.errors import PySparkException

    def raising(err):
        def action():
            raise err
        return action
    codes = {kind: guarded(raising(err)) for kind, err in (
        ("user", BomflowError("bad path")), ("gate", GateFailed("input gate failed")),
        ("publish", PublishError("Solr down")), ("busy", LeaseHeld("held")),
        ("spark", PySparkException("boom")))}
    assert codes == {"user": Exit.USER_ERROR, "gate": Exit.GATE_FAILED, "publish": Exit.PUBLISH_FAILED,
                     "busy": Exit.LAKE_BUSY, "spark": Exit.INTERNAL}
    assert len(set(codes.values()) | {Exit.OK, Exit.DIFFERENCES}) == 7
    assert guarded(lambda: 1) == Exit.DIFFERENCES and guarded(lambda: None) == Exit.OK
    assert capfd.readouterr().err.count("bomflow: error:") == 5
