"""Driver heap against order count (issue 14's "driver heap flat in order count").

    .venv/bin/python -m bench.driver_heap [--scales 0.01,0.1,1] [--positions 1000] [--work DIR] [--docs DIR]

One realistic-profile night per scale on a Spark standalone master and worker on 127.0.0.1, so that
the driver is a JVM of its own, as on a cluster (in local mode the driver's heap also holds the
executor's shuffle, cache and aggregation memory, and Spark fills whatever heap it gets). Every
--every seconds `jcmd <driver> GC.class_histogram` runs a full GC and counts what is still live: the
largest of those counts is the driver's live heap at its peak, within one sampling interval. Writes
DOCS/performance-driver-heap.md with the night's time, the samples and the histogram's top classes at
the peak. jcmd comes with the JDK. The full GCs slow the night a little; the time is for orientation.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psutil

from bench.run import SF1_ORDERS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MASTER_PORT, MASTER_UI, WORKER_UI = 7177, 18180, 18181   # not the test suite's 7077, so both can run


def standalone(work: Path, cores: int, memory_gb: int) -> list[subprocess.Popen]:
    """A master and one worker, registered; the processes to stop."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOG_DIR": str(work / "logs")}
    spark_class = str(BIN / "spark-class")
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(MASTER_PORT), "--webui-port", str(MASTER_UI)],
                              env=env, stdout=open(work / "master.log", "w"), stderr=subprocess.STDOUT)
    worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker",
                               f"spark://127.0.0.1:{MASTER_PORT}", "--host", "127.0.0.1", "--cores", str(cores),
                               "--memory", f"{memory_gb}g", "--webui-port", str(WORKER_UI),
                               "--work-dir", str(work / "worker")],
                              env=env, stdout=open(work / "worker.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(240):
        if "Successfully registered with master" in (work / "worker.log").read_text():
            return [worker, master]
        time.sleep(0.5)
    for process in (worker, master):
        process.terminate()
    raise SystemExit(f"the standalone worker did not register: {work / 'worker.log'}")


def driver_of(process: subprocess.Popen) -> psutil.Process | None:
    """The SparkSubmit JVM that `bomflow run` started (its driver), once it exists."""
    try:
        return next((p for p in psutil.Process(process.pid).children(recursive=True)
                     if "org.apache.spark.deploy.SparkSubmit" in " ".join(p.cmdline())), None)
    except psutil.Error:
        return None


def live_heap(pid: int) -> tuple[int, list[str]] | None:
    """Bytes still live after the full GC that `jcmd GC.class_histogram` runs, and the top classes."""
    out = subprocess.run(["jcmd", str(pid), "GC.class_histogram"], capture_output=True, text=True).stdout
    total = [line.split() for line in out.splitlines() if line.startswith("Total")]
    if not total:
        return None
    return int(total[0][2]), [line for line in out.splitlines() if line.strip()[:1].isdigit() and ":" in line.strip()[:-1]][:8]


def night(scale: float, args, work: Path, conf: Path) -> dict:
    folder = work / f"sf{scale:g}"
    source, lake = folder / "source", folder / "lake"
    if not (source / "production_orders").exists():
        subprocess.run([str(BIN / "bomflow"), "generate", "--profile", "realistic", "--scale", str(scale),
                        "--positions", str(args.positions), "--out", str(source), "--start-date", args.date],
                       check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(lake, ignore_errors=True)
    started = time.monotonic()
    with open(folder / "run.log", "w") as log:
        run = subprocess.Popen([str(BIN / "bomflow"), "run", "--source", str(source), "--lake", str(lake),
                                "--no-publish", "--run-date", args.date, "--conf", str(conf)],
                               stdout=log, stderr=subprocess.STDOUT)
        samples, peak_classes, driver = [], [], None
        while run.poll() is None:
            driver = driver or driver_of(run)
            if driver is not None and (measured := live_heap(driver.pid)):
                samples.append(measured[0])
                if measured[0] == max(samples):
                    peak_classes = measured[1]
            time.sleep(args.every)
    seconds = time.monotonic() - started
    orders = int(scale * SF1_ORDERS)
    return {"scale": scale, "orders": orders, "rc": run.returncode, "seconds": seconds, "samples": len(samples),
            "peak": max(samples, default=0), "mean": sum(samples) / len(samples) if samples else 0,
            "classes": peak_classes, "log": folder / "run.log"}


def report(results: list[dict], args) -> str:
    mb = 1_000_000
    lines = [f"# Driver heap against order count ({date.today()})", "",
             f"`python -m bench.driver_heap --scales {args.scales} --positions {args.positions}`: realistic profile, "
             f"{args.positions:,} BOM positions per model, a standalone master and one worker on 127.0.0.1 "
             f"({args.cores} cores, {args.executor_gb} GiB executor), the driver a JVM of its own with "
             f"{args.driver_gb} GiB. Live heap: `jcmd GC.class_histogram` after a full GC, every {args.every:g} s.", "",
             "| SF | orders | night | exit | samples | driver live heap, peak MB | mean MB |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['scale']:g} | {r['orders']:,} | {r['seconds']:.1f} s | {r['rc']} | {r['samples']} | "
                     f"{r['peak'] / mb:.1f} | {r['mean'] / mb:.1f} |")
    for r in results:
        lines += ["", f"Top classes at the peak, SF {r['scale']:g}:", "", "```", *r["classes"], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.01,0.1,1")
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bomflow-bench/driver-heap"))
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between two samples")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--executor-gb", type=int, default=6)
    parser.add_argument("--driver-gb", type=int, default=1)
    parser.add_argument("--date", default=date.today().isoformat(), help="first production date and run date")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    conf = args.work / "driver-heap.yaml"
    conf.write_text(f"spark:\n  master: spark://127.0.0.1:{MASTER_PORT}\n  conf:\n"
                    f"    spark.driver.memory: {args.driver_gb}g\n    spark.executor.memory: {args.executor_gb}g\n")
    processes = standalone(args.work, args.cores, args.executor_gb + 1)
    try:
        results = []
        for scale in (float(s) for s in args.scales.split(",")):
            results.append(night(scale, args, args.work, conf))
            r = results[-1]
            print(f"SF {scale:g}: exit {r['rc']}, {r['seconds']:.1f} s, driver live heap peak "
                  f"{r['peak'] / 1e6:.1f} MB over {r['samples']} samples ({r['log']})", flush=True)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    args.docs.mkdir(parents=True, exist_ok=True)
    (args.docs / "performance-driver-heap.md").write_text(report(results, args))
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
