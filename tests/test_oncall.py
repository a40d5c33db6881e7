"""The on-call view without a night of its own: JSON log lines with the run id, Prometheus metrics that
equal the runs table of the shared lakes, and alerting rules that refer only to series we export."""
import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from adapters import lake as lk
from jobs import cli
from pipeline import config, logs, metrics
from pipeline.generate import BLOCKED_BY_BAD_ROWS
from schemas import names as n

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "monitoring" / "bomflow-alerts.yml"


def samples(text: str) -> dict[tuple, float]:
    """(name, sorted labels without lake) -> value of every sample in a Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "lake"))
            found[(s.name, labels)] = s.value
    return found


def test_log_lines_are_json_with_the_run_id_inside_a_night_and_foreign_loggers_alike(capfd):
    logs.configure(config.load("test"), "info")
    try:
        with logs.bound(run_id="R-1"):
            logs.get("bomflow.night").info("step_done", step="explode", seconds=1.25)
            logging.getLogger("great_expectations.probe").warning("a %s line", "foreign")
        logs.get("bomflow.night").info("after")
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        logs.configure(config.load("test"))
    assert [line["msg"] for line in lines] == ["step_done", "a foreign line", "after"]
    assert lines[0] | {"ts": None} == {"ts": None, "level": "info", "logger": "bomflow.night", "msg": "step_done",
                                       "run_id": "R-1", "step": "explode", "seconds": 1.25}
    assert lines[1]["run_id"] == "R-1" and lines[1]["level"] == "warning" and "run_id" not in lines[2]
    assert datetime.fromisoformat(lines[0]["ts"]).tzinfo is not None
    with pytest.raises(Exception, match="unknown log level 'LOUD'"):
        logs.configure(config.load("test"), "loud")


def test_metrics_of_a_night_equal_its_runs_row(spark, bad_lake):
    (row,) = lk.runs_table(spark, str(bad_lake)).collect()
    found = samples(metrics.text(str(bad_lake), [row]))
    counts, recorded = json.loads(row.reconciliation_json), json.loads(row.metrics_json)
    for table, c in counts.items():
        for kind in ("read", "used", "quarantined"):
            assert found[("bomflow_last_run_rows", (("kind", kind), ("table", table)))] == c[kind]
    for step, seconds in recorded["step_seconds"].items():
        assert found[("bomflow_last_run_step_duration_seconds", (("step", step),))] == seconds
    assert found[("bomflow_last_run_succeeded", ())] == 1
    assert found[("bomflow_last_run_gate_passed", (("gate", "input"),))] == 1
    assert found[("bomflow_last_run_gate_passed", (("gate", "output"),))] == 1
    assert found[("bomflow_last_run_model_blocked", (("model", BLOCKED_BY_BAD_ROWS),))] == 1
    assert found[("bomflow_last_run_blocked_models", ())] == len(json.loads(row.blocked_models))
    own = sum(k for reasons in recorded["quarantine_by_reason"].values() for reason, k in reasons.items()
              if reason != n.MODEL_BLOCKED)   # the blocked model's rows are the blocked-model series' business
    quarantined = own / sum(c["read"] for c in counts.values())
    assert found[("bomflow_last_run_quarantined_ratio", ())] == pytest.approx(quarantined) and quarantined > 0
    assert own < sum(c["quarantined"] for c in counts.values())
    assert found[("bomflow_last_success_timestamp_seconds", ())] == row.finished_at.replace(
        tzinfo=timezone.utc).timestamp()
    info = [labels for (name, labels) in found if name == "bomflow_last_run_info"]
    assert dict(info[0])["run_id"] == row.run_id and dict(info[0])["status"] == n.SUCCEEDED


def test_a_failed_night_after_a_good_one_reads_failed_and_keeps_the_last_success(spark, clean_lake):
    (good,) = lk.runs_table(spark, str(clean_lake)).collect()
    failed = {**good.asDict(), "run_id": "later", "status": n.FAILED, "gate_result": "failed: output",
              "started_at": good.started_at + timedelta(days=1), "finished_at": good.finished_at + timedelta(days=1),
              "metrics_json": json.dumps({"output_gate": {"name": "output", "failures": ["drift"], "checks": 4},
                                          "input_gate": {"name": "input", "failures": [], "checks": 9}}),
              "publish_status": None}
    found = samples(metrics.text(str(clean_lake), [failed, good]))   # any order: sorted by start
    assert found[("bomflow_last_run_succeeded", ())] == 0
    assert found[("bomflow_last_run_gate_passed", (("gate", "output"),))] == 0
    assert found[("bomflow_last_success_timestamp_seconds", ())] == good.finished_at.replace(
        tzinfo=timezone.utc).timestamp()
    assert found[("bomflow_serving_run_published", ())] == 0   # history's runs are --no-publish


def test_bomflow_metrics_writes_the_textfile_that_it_prints(spark, clean_lake, tmp_path, capsys):
    out = tmp_path / "textfile" / "bomflow.prom"
    assert cli.main(["metrics", "--lake", str(clean_lake), "--out", str(out)]) == 0
    assert cli.main(["metrics", "--lake", str(clean_lake)]) == 0
    printed = capsys.readouterr().out.split("\n", 1)[1]
    assert samples(out.read_text()) == samples(printed) and ("bomflow_last_run_succeeded", ()) in samples(printed)
    assert not list(out.parent.glob("*.tmp"))   # written atomically: no temporary file left


def _simple(expr: str):
    """(metric, operator, number) of an expression of the form `metric OP number`, else None."""
    match = re.fullmatch(r"(bomflow_[a-z_]+)\s*(==|>|<)\s*([0-9.]+)", expr.strip())
    return (match[1], match[2], float(match[3])) if match else None


def test_every_alert_refers_to_exported_series_and_the_simple_ones_fire_as_they_should(spark, bad_lake, clean_lake):
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {"BomflowNightFailed", "BomflowNotPublishedByDeadline",
                                            "BomflowQuarantineHigh", "BomflowModelBlocked"}
    documented = set(re.findall(r"^    (bomflow_[a-z_]+)", metrics.__doc__, re.M))
    bad = samples(metrics.text(str(bad_lake), lk.runs_table(spark, str(bad_lake)).collect()))
    exported = {name for name, _ in bad}
    for rule in rules:
        assert rule["labels"]["severity"] in ("page", "ticket") and rule["annotations"]["summary"], rule["alert"]
        named = set(re.findall(r"bomflow_[a-z_]+", rule["expr"]))
        assert named and named <= documented, rule["alert"]
    assert documented - {"bomflow_serving_run_published", "bomflow_last_published_run_finished_timestamp_seconds"} \
        <= exported   # a never-published lake has no publish series; every other documented series is there
    clean = samples(metrics.text(str(clean_lake), lk.runs_table(spark, str(clean_lake)).collect()))
    ops = {"==": float.__eq__, ">": float.__gt__, "<": float.__lt__}
    fired = {}
    for rule in rules:
        if (simple := _simple(rule["expr"])) is not None:
            name, op, number = simple
            for lake, found in (("bad", bad), ("clean", clean)):
                if any(ops[op](float(v), number) for (m, _), v in found.items() if m == name):
                    fired.setdefault(lake, set()).add(rule["alert"])
    assert fired["bad"] >= {"BomflowModelBlocked", "BomflowQuarantineHigh"} and "BomflowNightFailed" not in fired["bad"]
    assert "clean" not in fired or not fired["clean"] & {"BomflowModelBlocked", "BomflowQuarantineHigh",
                                                           "BomflowNightFailed"}
