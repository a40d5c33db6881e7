"""Benchmark: documents per second indexed into the local SolrCloud from Spark (foreachPartition + pysolr).

    make bench-solr        (or .venv/bin/python bench/solr_publish.py [--orders N] [--repeat K])

Generates sample data, runs the nightly job once, publishes that run K times (the
first into a new collection, later ones re-index the serving collection, which is
idempotent), and appends a row per publish to docs/solr-benchmark.md.
"""
import argparse
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("BOMFLOW_ENV", "local")

from adapters import solr as publish, solr_server  # noqa: E402
from adapters.session import spark_session  # noqa: E402
from jobs import cli  # noqa: E402
from pipeline import config as settings  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "solr-benchmark.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    conf = settings.load()
    solr = conf["solr"]
    solr_server.start(solr)
    work = Path(tempfile.mkdtemp(prefix="bomflow-bench-"))
    assert cli.main(["generate", "--out", str(work / "source"), "--orders", str(args.orders)]) == 0
    assert cli.main(["run", "--source", str(work / "source"), "--lake", str(work / "lake"), "--no-publish"]) == 0
    spark = spark_session(conf)
    api = publish.Collections(solr["url"], publish.writer(solr))
    rows = []
    for attempt in range(1, args.repeat + 1):
        run_id, _ = publish.run_to_publish(spark, str(work / "lake"), None)
        collection = f"{solr['collection_prefix']}{run_id}"
        if collection in api.collections() and api.aliases().get(solr["alias"]) != collection:
            api.delete(collection)
        started = time.monotonic()
        done = publish.publish(spark, solr, str(work / "lake"))
        seconds = time.monotonic() - started
        rows.append((attempt, done.documents, seconds, done.documents / seconds))
        print(f"publish {attempt}: {done.documents:,} documents in {seconds:.1f} s = {done.documents / seconds:,.0f} docs/s")
    header = "" if OUT.exists() else (
        "# Solr publish benchmark\n\nEnd-to-end publish (create collection, push from Spark, commit, count, spot check,"
        " alias swap) of the sample run's demand_summary into the local single-node SolrCloud.\n\n"
        "| date (UTC) | machine | orders | attempt | documents | seconds | docs/s |\n|---|---|---|---|---|---|---|\n")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    machine = f"{platform.machine()} {os.cpu_count()} cores"
    with OUT.open("a") as out:
        out.write(header + "".join(f"| {stamp} | {machine} | {args.orders:,} | {a} | {d:,} | {s:.1f} | {r:,.0f} |\n"
                                   for a, d, s, r in rows))
    print(f"appended to {OUT}")


if __name__ == "__main__":
    main()
