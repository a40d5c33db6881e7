"""Run metrics in Prometheus' text format, from the runs table, for node_exporter's textfile collector.

After every night (and every publish) bomflow rewrites one `.prom` file (`metrics.textfile`,
relative to the state folder; atomic: prometheus_client writes a temporary file and renames it),
so a scrape always sees one whole state. `bomflow metrics --lake DIR` prints or writes the same. Every
series carries the lake as a label, so one node can report several lakes. The alerting rules that
page on these series are in monitoring/bomflow-alerts.yml (docs/operations.md "On call").

    bomflow_last_run_info{run_id,run_date,status,gate_result,bomflow_version}   1, the newest night
    bomflow_last_run_succeeded                       1 or 0
    bomflow_last_run_finished_timestamp_seconds      when the newest night ended
    bomflow_last_run_duration_seconds                its wall time
    bomflow_last_run_step_duration_seconds{step}     per step of the night
    bomflow_last_run_rows{table,kind}                read / used / quarantined per input table
    bomflow_last_run_quarantined_ratio               rows quarantined for their own defects / rows read
                                                     (model_blocked rows excluded: the blocked-model series say those)
    bomflow_last_run_gate_passed{gate}               input and output gate: 1 passed, 0 failed
    bomflow_last_run_blocked_models                  models blocked by a BOM defect (demand carried)
    bomflow_last_run_model_blocked{model}            1 per blocked model
    bomflow_last_success_timestamp_seconds           when the newest succeeded night ended
    bomflow_serving_run_published                    1 when the run readers are served is in Solr
    bomflow_last_published_run_finished_timestamp_seconds   the newest published run's end
"""
import json
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from schemas import names as n

NIGHTS = (n.SUCCEEDED, n.FAILED)


def _seconds(ts: datetime | None) -> float | None:
    if ts is None:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)).timestamp()


def registry(lake: str, rows: list) -> CollectorRegistry:
    """The metrics of a lake's runs rows (Row objects or dicts with the runs table's columns)."""
    rows = sorted((r.asDict() if hasattr(r, "asDict") else dict(r) for r in rows), key=lambda r: r["started_at"])
    reg = CollectorRegistry()

    def gauge(name: str, doc: str, labels=()):
        return Gauge(name, doc, ["lake", *labels], registry=reg)

    nights = [r for r in rows if r["status"] in NIGHTS]
    if nights:
        last = nights[-1]
        metrics = json.loads(last["metrics_json"] or "{}")
        info = ("run_id", "run_date", "status", "gate_result", "bomflow_version")
        gauge("bomflow_last_run_info", "The newest night: its id, date, status, gate result and code version",
              info).labels(lake, *[str(last[k] or "") for k in info]).set(1)
        gauge("bomflow_last_run_succeeded", "1 when the newest night succeeded").labels(lake).set(
            last["status"] == n.SUCCEEDED)
        if last["finished_at"] is not None:
            gauge("bomflow_last_run_finished_timestamp_seconds", "When the newest night ended (Unix time)").labels(
                lake).set(_seconds(last["finished_at"]))
        if "total_seconds" in metrics:
            gauge("bomflow_last_run_duration_seconds", "Wall time of the newest night").labels(lake).set(
                metrics["total_seconds"])
        steps = gauge("bomflow_last_run_step_duration_seconds", "Wall time of each step of the newest night", ["step"])
        for name, seconds in metrics.get("step_seconds", {}).items():
            steps.labels(lake, name).set(seconds)
        counts = json.loads(last["reconciliation_json"] or "{}")
        table_rows = gauge("bomflow_last_run_rows", "Input rows of the newest night: read, used, quarantined",
                           ["table", "kind"])
        for table, c in sorted(counts.items()):
            for kind in ("read", "used", "quarantined"):
                table_rows.labels(lake, table, kind).set(c[kind])
        read = sum(c["read"] for c in counts.values())
        if counts:
            gauge("bomflow_last_run_quarantined_ratio", "Input rows quarantined for their own defects (not "
                  "model_blocked) / rows read, all tables").labels(lake).set(own_defects(counts, metrics) / read
                                                                             if read else 0)
        gates = gauge("bomflow_last_run_gate_passed", "1 when the gate passed, 0 when it failed (absent: not reached)",
                      ["gate"])
        for gate in ("input", "output"):
            if f"{gate}_gate" in metrics:
                gates.labels(lake, gate).set(not metrics[f"{gate}_gate"].get("failures"))   # GateResult.as_dict
        blocked = json.loads(last["blocked_models"] or "{}")
        gauge("bomflow_last_run_blocked_models", "Models blocked by a BOM defect in the newest night").labels(
            lake).set(len(blocked))
        per_model = gauge("bomflow_last_run_model_blocked", "1 for each model the newest night blocked", ["model"])
        for model in sorted(blocked):
            per_model.labels(lake, model).set(1)
    succeeded = [r for r in nights if r["status"] == n.SUCCEEDED and r["finished_at"] is not None]
    if succeeded:
        gauge("bomflow_last_success_timestamp_seconds", "When the newest succeeded night ended (Unix time)").labels(
            lake).set(_seconds(succeeded[-1]["finished_at"]))
    serving = [r for r in rows if r["status"] in n.SERVING]
    if serving:
        gauge("bomflow_serving_run_published", "1 when the run the lake serves is published to Solr").labels(
            lake).set(serving[-1]["publish_status"] == "published")
    published = [r for r in nights if r["publish_status"] == "published" and r["finished_at"] is not None]
    if published:
        gauge("bomflow_last_published_run_finished_timestamp_seconds",
              "When the newest run that is published to Solr ended (Unix time)").labels(lake).set(
            _seconds(published[-1]["finished_at"]))
    return reg


def own_defects(counts: dict, metrics: dict) -> int:
    """Rows quarantined for their own defects; a runs row without reasons (before 2026-12-02) counts all."""
    by_reason = metrics.get("quarantine_by_reason")
    if by_reason is None:
        return sum(c["quarantined"] for c in counts.values())
    return sum(k for reasons in by_reason.values() for reason, k in reasons.items() if reason != n.MODEL_BLOCKED)


def text(lake: str, rows: list) -> str:
    return generate_latest(registry(lake, rows)).decode()


def export(spark, lake: str, path) -> str:
    """Write the lake's metrics to the textfile `path` (atomically); returns the path."""
    from adapters import lake as lk

    write_to_textfile(str(path), registry(lake, lk.runs_table(spark, lake).collect()))
    return str(path)
