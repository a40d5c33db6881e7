"""Benchmark: bomflow against the scan floor and the peers, at several scale factors, in one invocation.

    make bench                       (or .venv/bin/python -m bench.run [--scales 0.01,0.1,1] [--timeout 900]
                                                        [--profile sample|realistic])

SF 1 = 1,000,000 production orders. The sample profile: 42 plants (one with 10x the volume) and
12 models of three brands (bench/network.py), 28 production days, 18 plan months; writes
docs/performance.*. The realistic profile (pipeline/realistic.py, issue 14: 80-150 codes per car,
5,000 BOM positions per model) writes docs/performance-realistic.*.
Each (scale, system) runs in its own process; the parent samples that process
tree's resident memory. A system that passes --timeout is stopped and reported
as "> timeout". Writes docs/performance.md, docs/performance.csv and
docs/performance.png (time vs scale).
"""
import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SF1_ORDERS = 1_000_000
PEERS = ("scan_floor", "bomflow", "bomflow_engine", "naive", "recursive_cte", "duckdb", "reference")
LABELS = {"scan_floor": "scan floor (read + fold every input row)", "bomflow": "bomflow (whole nightly job)",
          "bomflow_engine": "bomflow engine only (read, screen, explode orders)",
          "naive": "naive per-order DataFrame explosion", "recursive_cte": "Spark SQL WITH RECURSIVE",
          "duckdb": "DuckDB recursive CTE (2 threads)", "reference": "Python path-by-path reference"}
REFERENCE_MAX_ORDERS = 10_000
DAG_DEPTHS = (10, 20, 30)


def run_one(system: str, source: str, work: Path, timeout: float) -> dict:
    """Run bench.systems SYSTEM in a child process; wall time, peak RSS of its process tree, its JSON."""
    out = work / f"{system}.json"
    log = open(work / f"{system}.log", "w")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOMFLOW_ENV": "local"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bench.systems", system, source, str(work / system), str(out)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    parent, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        if time.monotonic() - started > timeout:
            for p in [*parent.children(recursive=True), parent]:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            proc.wait()
            return {"system": system, "status": "timeout", "seconds": timeout, "peak_rss_bytes": peak}
        time.sleep(0.25)
    if proc.returncode != 0 or not out.exists():
        tail = (work / f"{system}.log").read_text()[-1500:]
        return {"system": system, "status": f"failed (exit {proc.returncode})", "error": tail, "peak_rss_bytes": peak}
    return {"system": system, "status": "ok", "peak_rss_bytes": peak, **json.loads(out.read_text())}


def generate(scale: float, root: Path, profile: str = "sample") -> tuple[str, dict]:
    from bench.network import write_network
    source = root / f"sf{scale:g}" / "source"
    orders = int(SF1_ORDERS * scale)
    if not (source / "_generated.json").exists():
        shutil.rmtree(source, ignore_errors=True)
        shape = (["--profile", "realistic"] if profile == "realistic"
                 else ["--network", str(write_network(root / "network.yaml"))])
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BOMFLOW_ENV": "local"}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "jobs.cli", "generate", "--out", str(source), "--orders", str(orders),
                        "--start-date", "2026-03-02", *shape], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        size = sum(f.stat().st_size for f in source.rglob("*") if f.is_file())
        (source / "_generated.json").write_text(json.dumps({"orders": orders, "bytes": size,
                                                           "seconds": time.monotonic() - started}))
    return str(source), json.loads((source / "_generated.json").read_text())


def agreement(result: dict, truth: dict | None) -> str:
    if result.get("status") != "ok" or "output_total" not in result:
        return ""
    if truth is None:
        return "n/a"
    same_rows = result["output_rows"] == truth["output_rows"]
    rel = abs(result["output_total"] - truth["output_total"]) / max(abs(truth["output_total"]), 1e-9)
    return "yes" if same_rows and rel < 1e-9 else f"NO (rows {result['output_rows']}, total {result['output_total']:.6g})"


def mb(value) -> str:
    return f"{value / 2**20:,.0f}" if value else ""


def main() -> None:
    global DOCS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.01,0.1,1")
    parser.add_argument("--systems", default=",".join(PEERS),
                        help="systems to (re-)run; the others keep their last measurement in --work")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per system and scale")
    parser.add_argument("--work", default="/tmp/bomflow-bench")
    parser.add_argument("--profile", choices=("sample", "realistic"), default="sample",
                        help="the generator's profile; realistic writes docs/performance-realistic.*")
    parser.add_argument("--no-dag", action="store_true", help="keep the last 2^k-path DAG series instead of re-running it")
    parser.add_argument("--docs", default=str(DOCS),
                        help="where performance.{md,csv,png} go (default docs/; elsewhere for a partial re-measurement)")
    args = parser.parse_args()
    DOCS = Path(args.docs)
    root = Path(args.work) / ("realistic" if args.profile == "realistic" else "")
    root.mkdir(parents=True, exist_ok=True)
    rows, details = [], {}
    requested = [float(s) for s in args.scales.split(",")]
    measured = [float(d.name[2:]) for d in root.glob("sf*") if list((d / "runs").glob("*.result.json"))]
    for scale in sorted(set(requested) | set(measured)):
        source, gen = generate(scale, root, args.profile)
        print(f"SF {scale:g}: {gen['orders']:,} orders, {gen['bytes'] / 2**20:,.1f} MiB of Parquet", flush=True)
        results = {}
        chosen = args.systems.split(",") if scale in requested else []   # other scales: last measurements
        for system in PEERS:
            if system == "reference" and gen["orders"] > REFERENCE_MAX_ORDERS:
                continue
            work = root / f"sf{scale:g}" / "runs"
            saved = work / f"{system}.result.json"
            if system not in chosen:   # keep the last measurement of a system not re-run (--systems)
                if saved.exists():
                    results[system] = json.loads(saved.read_text())
                continue
            shutil.rmtree(work / system, ignore_errors=True)
            work.mkdir(parents=True, exist_ok=True)
            results[system] = r = run_one(system, source, work, args.timeout)
            saved.write_text(json.dumps(r, default=str))
            print(f"  {system:<14} {r['status']:<10} {r.get('seconds', 0):8.1f} s  peak RSS {mb(r['peak_rss_bytes'])} MiB",
                  flush=True)
        truth = results.get("bomflow") if results.get("bomflow", {}).get("status") == "ok" else None
        for system, r in results.items():
            rows.append({"scale": scale, "orders": gen["orders"], "input_mib": round(gen["bytes"] / 2**20, 1),
                         "system": system, "status": r["status"], "seconds": round(r.get("seconds", 0), 1),
                         "orders_per_s": round(gen["orders"] / r["seconds"]) if r["status"] == "ok" and r.get("seconds") else "",
                         "peak_rss_mib": mb(r.get("peak_rss_bytes")), "jvm_heap_peak_mib": mb(r.get("jvm_heap_peak_bytes")),
                         "shuffle_write_mib": mb(r.get("shuffle_write_bytes")) or ("0" if "stages" in r else ""),
                         "spill_mib": mb(r.get("memory_spilled_bytes", 0) + r.get("disk_spilled_bytes", 0))
                         or ("0" if "stages" in r else ""),
                         "agrees_with_bomflow": agreement(r, truth) if system != "bomflow" else "",
                         "error": r.get("error", "")[-300:]})
        details[scale] = results
    dag = []
    for k in DAG_DEPTHS:
        work = root / "dag"
        work.mkdir(parents=True, exist_ok=True)
        saved = work / f"k{k}.result.json"
        if args.no_dag:   # keep the last measurement, if any
            if saved.exists():
                dag.append(json.loads(saved.read_text()))
            continue
        r = {"k": k, **run_one("dag", str(k), work, args.timeout)}
        saved.write_text(json.dumps(r, default=str))
        print(f"  dag k={k:<3} {r['status']:<10} {r.get('seconds', 0):8.1f} s", flush=True)
        dag.append(r)
    write_outputs(rows, details, dag, args.profile)


def ratio(a, b) -> str:
    if not a or not b or a.get("status") != "ok" or b.get("status") not in ("ok", "timeout"):
        return "n/a"
    x = b["seconds"] / a["seconds"]
    return (">" if b["status"] == "timeout" else "") + (f"{x:.1f}x" if x >= 1 else f"{x:.2f}x")


PROFILES = {
    "sample": ("performance", "SF 1 = 1,000,000 production orders, 42 plants (plant B01 has 10x the orders of any other), "
               "12 models of three brands (BMW, MINI, Rolls-Royce), 28 production days, 18 plan months; the 150 % BOM of "
               "`conf/sample_network.yaml` with 8 fasteners under every assembly (bench/network.py)."),
    "realistic": ("performance-realistic", "The realistic profile (`bomflow generate --profile realistic`, "
                  "pipeline/realistic.py, issue 14): SF 1 = 1,000,000 production orders over 42 plants (one with six "
                  "times the volume of the others) and 12 models of three brands, 28 production days, 18 plan months; "
                  "80-150 option codes per car (nearly every car its own variant), a 150 % BOM of about 5,000 "
                  "positions per model over 7 levels, about a third of the edges with a rule."),
}


def write_outputs(rows: list[dict], details: dict, dag: list[dict], profile: str = "sample") -> None:
    name, shape = PROFILES[profile]
    DOCS.mkdir(exist_ok=True)
    with open(DOCS / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, name)
    cpu = platform.processor() or platform.machine()
    lines = [
        f"# Performance ({profile} profile): bomflow against the scan floor and the peers",
        "",
        f"Measured by `make bench` (`bench/run.py`) on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{psutil.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        "Spark local[2] with conf/local.yaml, one process per system and scale. "
        f"Regenerate with `make bench`; the raw numbers are in `docs/{name}.csv`.",
        "",
        shape,
        "",
        "| SF | orders | input MiB | system | status | wall s | orders/s | peak RSS MiB | JVM heap peak MiB | "
        "shuffle write MiB | spill MiB | same result as bomflow |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        seconds = ("> " if r["status"] == "timeout" else "") + str(r["seconds"])
        rate = f"{r['orders_per_s']:,}" if r["orders_per_s"] != "" else ""
        lines.append(f"| {r['scale']:g} | {r['orders']:,} | {r['input_mib']} | {LABELS.get(r['system'], r['system'])} | "
                     f"{r['status']} | {seconds} | {rate} | {r['peak_rss_mib']} | {r['jvm_heap_peak_mib']} | "
                     f"{r['shuffle_write_mib']} | {r['spill_mib']} | {r['agrees_with_bomflow']} |")
    lines += ["", "## Ratios", "", "Wall-time ratios; `>` when the slower system hit the timeout (a lower bound).", "",
              "| SF | bomflow / scan floor | naive / bomflow | WITH RECURSIVE / bomflow | DuckDB / bomflow | "
              "naive / engine | WITH RECURSIVE / engine | DuckDB / engine | reference / engine |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for scale, res in details.items():
        b, e = res.get("bomflow"), res.get("bomflow_engine")
        lines.append(f"| {scale:g} | {ratio(res.get('scan_floor'), b)} | {ratio(b, res.get('naive'))} | "
                     f"{ratio(b, res.get('recursive_cte'))} | {ratio(b, res.get('duckdb'))} | "
                     f"{ratio(e, res.get('naive'))} | {ratio(e, res.get('recursive_cte'))} | "
                     f"{ratio(e, res.get('duckdb'))} | {ratio(e, res.get('reference'))} |")
    scales = sorted(details)
    if len(scales) > 1:
        lines += ["", "## Cost growth with orders", "",
                  "| system | " + " | ".join(f"SF {a:g} -> {b:g}" for a, b in zip(scales, scales[1:])) + " |",
                  "|---|" + "---:|" * (len(scales) - 1)]
        for system in PEERS:
            cells = [ratio(details[a].get(system), details[b].get(system)) for a, b in zip(scales, scales[1:])]
            if any(c != "n/a" for c in cells):
                lines.append(f"| {LABELS[system]} | " + " | ".join(cells) + " |")
    lines += ["", "## bomflow inside: signatures, steps, explosion levels", ""]
    for scale, res in details.items():
        b = res.get("bomflow", {})
        if b.get("status") != "ok":
            continue
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in b["step_seconds"].items())
        levels = ", ".join(f"L{lv['level']}: {lv['rows']:,} rows {lv['seconds']:.1f} s" for lv in b["levels"])
        lines += [f"- **SF {scale:g}**: {b['orders']:,} orders -> {b['configurations']:,} distinct configurations "
                  f"(plant, model, date, option set) -> **{b['signatures']:,} variant signatures** "
                  f"({b['dated_signatures']:,} (signature, date) rows: the frontier at the model); {b['stages']} Spark stages.",
                  f"  - steps: {steps}", f"  - order explosion levels: {levels}"]
    if dag:
        lines += ["", "## Depth and sharing: a chain of k diamonds (2^k paths per car)", "",
                  "100 orders of one model; every node of the chain also needs a bolt, so the bolt's demand sums "
                  "2^k paths. Engine only (`order_demand`, no Delta, no gates).", "",
                  "| k | paths to the last bolt | levels | bomflow s | reference s | same total |",
                  "|---:|---:|---:|---:|---:|---|"]
        for d in dag:
            same = ("yes" if abs(d["reference_total"] - d["output_total"]) <= 1e-9 * d["reference_total"] else "NO") \
                if "reference_total" in d else "(reference not run: too many paths)"
            reference_s = f"{d['reference_seconds']:.2f}" if "reference_seconds" in d else ""
            lines.append(f"| {d['k']} | {2 ** d['k']:,} | {d.get('levels', '')} | {d.get('seconds', 0):.1f} | "
                         f"{reference_s} | {same} |")
    duck = [(scale, res["duckdb"]) for scale, res in details.items() if res.get("duckdb", {}).get("prepare_seconds")]
    if duck:
        lines += ["", "DuckDB's preparation, outside its time above (validation by `screen` and the Parquet export of "
                  "the validated order ids and edge table, in Spark): " +
                  ", ".join(f"SF {scale:g} {d['prepare_seconds']:.1f} s" for scale, d in duck) + "."]
    lines += ["", f"![time vs scale]({name}.png)", ""]
    (DOCS / f"{name}.md").write_text("\n".join(lines) + "\n" + NOTES)
    print(f"wrote {DOCS / (name + '.md')}, {name}.csv, {name}.png")


NOTES = """
## How to read this

- **What each system does.** All compute order demand per (plant, model, part, demand date) with the
  contract's edge test (effective at the date, for the plant, rule true). "same result as bomflow"
  compares row count and total quantity of the order demand (relative 1e-9).
  - **bomflow (whole nightly job)**: reading, validation and quarantine, both GX gates, the order *and*
    the 18-month plan explosion (exact decimals), staging, the output checks and the Delta commit.
  - **bomflow engine only**: reading, validation (`screen`) and the order explosion, materialised;
    no plan, no GX, no Delta. Timed exactly like naive and WITH RECURSIVE, which also start from
    reading and `screen` (so validation is in all three) and then use bomflow's prepared edge table
    (rules in DNF, edge factors, offsets), computing in doubles.
  - **DuckDB** gets the same validated order ids and edge table as Parquet, prepared outside its time.
- **scan floor** reads every input table and folds every column of every row (`xxhash64`); a plain
  Parquet `count()` would only read footers.
- **naive** explodes each order on its own, path by path, aggregating only at the end; **WITH
  RECURSIVE** is the same as one Spark SQL statement (Spark 4.1, `spark.sql.cteRecursionRowLimit`
  raised, as it must be: the default 1M rows stops it at the first level). **DuckDB** first groups
  orders into configurations, then enumerates paths per configuration in a recursive CTE.
- **timeout** means the system was stopped after that many seconds; its ratio is then a lower bound.
  A system missing at a scale was not run there (WITH RECURSIVE at SF 10: at SF 1 it already took
  238 s and spilled 23 GiB; the reference only up to 10,000 orders).
- The published numbers come from `make bench` at SF 0.01-1, then `--scales 10` (and re-runs of
  bomflow after the last engine change, `--systems bomflow,bomflow_engine`); every row of a scale
  was measured on the same generated data, one system at a time on an otherwise idle machine.
- **Memory**: peak RSS of the system's process tree (Python + JVM), sampled every 0.25 s; JVM heap peak
  from Spark's REST API (local mode: driver and executor are one JVM, `spark.driver.memory` 4g).
"""


def plot(rows: list[dict], name: str = "performance") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system in PEERS:
        pts = [(r["orders"], r["seconds"], r["status"]) for r in rows if r["system"] == system and r["seconds"]]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=LABELS[system])
        for x, y, status in pts:
            if status == "timeout":
                ax.annotate("timeout", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("production orders")
    ax.set_ylabel("wall time (s)")
    ax.set_title("bomflow vs scan floor and peers (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(DOCS / f"{name}.png", dpi=120)


if __name__ == "__main__":
    main()
