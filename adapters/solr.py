"""Publish a run's demand_summary and exception messages to SolrCloud, blue/green: `bomflow publish`,
`bomflow rollback`, `bomflow solr status`.

Each run gets its own collection demand_<run_id> (both kinds of document, transforms/solr_docs.py). Documents are pushed from the
executors (foreachPartition + pysolr, nothing collected to the driver), committed,
verified (count and a field-by-field spot check), and only then the alias
`demand` is pointed at the new collection in one CREATEALIAS call. Anything
failing before the swap leaves the alias where it was and removes the
half-built collection. Older collections beyond keep_collections are deleted.
Publishing the run the alias already serves (a retried task) indexes nothing when its collection
holds the run's documents (the same count and spot check); otherwise it indexes them again.
"""
import re
from dataclasses import dataclass

import requests
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from adapters import lake as lk
from pipeline import logs
from pipeline.errors import BomflowError, Exit
from schemas import names as n
from transforms.solr_docs import DOC_FIELDS, exception_documents, solr_documents

log = logs.get("bomflow.publish")
TIMEOUT = 120


class PublishError(BomflowError):
    """Publishing failed before the alias swap: the alias still points at the previous collection."""
    exit_code = Exit.PUBLISH_FAILED
    run_id: str | None = None   # the run being published, once known


@dataclass
class Published:
    run_id: str
    collection: str
    documents: int
    previous: str | None


def node_url(node_name: str) -> str:
    """Solr's node name (127.0.0.1:8984_solr) as a base URL."""
    host, _, context = node_name.partition("_")
    return f"http://{host}/{context.replace('%2F', '/') or 'solr'}"


class Collections:
    """The few Collections API calls bomflow needs, over plain HTTP, as `auth` (user, password)."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None):
        self.url = url.rstrip("/")
        self.auth = auth

    def call(self, action: str, **params) -> dict:
        try:
            reply = requests.get(f"{self.url}/admin/collections", params={"action": action, "wt": "json", **params},
                                 timeout=TIMEOUT, auth=self.auth)
        except requests.RequestException as err:
            raise PublishError(f"Solr is not reachable at {self.url} ({type(err).__name__}); "
                               "start it with `bomflow solr start`") from None
        if reply.status_code in (401, 403):
            raise PublishError(f"Solr refused {action} for {self.auth[0] if self.auth else 'an anonymous user'} "
                               f"(HTTP {reply.status_code}): check the credentials (solr.home/credentials or "
                               "BOMFLOW_SOLR_USER/BOMFLOW_SOLR_PASSWORD)")
        body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
        if not reply.ok or body.get("responseHeader", {}).get("status", 0) != 0:
            message = body.get("error", {}).get("msg") or reply.text[:300]
            raise PublishError(f"Solr {action} failed: {message}")
        return body

    def collections(self) -> list[str]:
        return sorted(self.call("LIST").get("collections", []))

    def aliases(self) -> dict[str, str]:
        return self.call("LISTALIASES").get("aliases", {})

    def live_nodes(self) -> list[str]:
        """Nodes ZooKeeper lists as live that also answer now (a killed node stays listed until its
        ZooKeeper session expires)."""
        from adapters.solr_server import is_up

        listed = self.call("CLUSTERSTATUS").get("cluster", {}).get("live_nodes", [])
        return [node for node in listed if is_up(node_url(node))]

    def require_live(self, replicas: int) -> None:
        live = self.live_nodes()
        if len(live) < replicas:   # fail before anything is built: the alias stays where it is
            raise PublishError(f"Solr has {len(live)} live node(s), a collection needs {replicas} replicas on "
                               "distinct nodes: start the missing node (`bomflow solr start`) or lower solr.replicas")

    def create(self, name: str, configset: str, replicas: int = 1) -> None:
        self.require_live(replicas)
        self.call("CREATE", name=name, numShards=1, replicationFactor=replicas, waitForFinalState="true",
                  **{"collection.configName": configset})

    def delete(self, name: str) -> None:
        self.call("DELETE", name=name)

    def point_alias(self, alias: str, collection: str) -> None:
        self.call("CREATEALIAS", name=alias, collections=collection)

    def count(self, collection: str) -> int:
        reply = requests.get(f"{self.url}/{collection}/select", params={"q": "*:*", "rows": 0, "wt": "json"},
                             timeout=TIMEOUT, auth=self.auth)
        reply.raise_for_status()
        return reply.json()["response"]["numFound"]


def _pusher(url: str, batch_size: int, auth: tuple[str, str] | None):
    """The function each partition runs: send its documents in batches, no commit."""
    def push(rows) -> None:
        import pysolr

        solr = pysolr.Solr(url, timeout=TIMEOUT, always_commit=False, auth=auth)
        batch = []
        for row in rows:
            batch.append({k: v for k, v in row.asDict().items() if v is not None})
            if len(batch) >= batch_size:
                solr.add(batch, commit=False)
                batch = []
        if batch:
            solr.add(batch, commit=False)
    return push


def run_to_publish(spark: SparkSession, lake: str, run_id: str | None) -> tuple[str, DataFrame]:
    """(run_id, its documents): demand_summary via Delta time travel and the run's exception messages;
    the last succeeded run unless one is named."""
    try:
        row = lk.succeeded_run(spark, lake, run_id)
        docs = solr_documents(lk.committed_table(spark, lake, row, n.DEMAND_SUMMARY))
    except BomflowError as err:
        raise PublishError(str(err)) from None
    try:
        found = lk.lake_table(spark, lake, n.EXCEPTIONS, "").where(F.col(n.RUN_ID) == row.run_id)
    except BomflowError:   # a lake of a bomflow before exception messages: demand only
        log.warning("no_exceptions_table", lake=lake, run_id=row.run_id)
        return row.run_id, docs
    return row.run_id, docs.unionByName(exception_documents(found), allowMissingColumns=True)


def _require_current_schema(url: str, collection: str, auth) -> None:
    """The collection was built from the configset the running Solr uploaded at its start: one older than
    this bomflow lacks the exception fields, and indexing would fail half-way with a field error."""
    reply = requests.get(f"{url}/{collection}/schema/fields/doc_type", params={"wt": "json"}, timeout=TIMEOUT,
                         auth=auth)
    if reply.status_code == 404:
        raise PublishError("Solr's configset predates this bomflow (no field doc_type): restart Solr so that "
                           "it uploads the new one (`bomflow solr stop && bomflow solr start`), then publish again")
    reply.raise_for_status()


def _spot_check(url: str, collection: str, docs: DataFrame, sample: int, auth) -> None:
    expected = {r["id"]: r for r in docs.orderBy(F.xxhash64("id")).limit(sample).collect()}
    if not expected:
        return
    reply = requests.post(f"{url}/{collection}/select", timeout=TIMEOUT, auth=auth,
                          data={"q": "*:*", "fq": "{!terms f=id}" + ",".join(expected), "rows": len(expected),
                                "fl": ",".join(DOC_FIELDS), "wt": "json"})
    reply.raise_for_status()
    found = {d["id"]: d for d in reply.json()["response"]["docs"]}
    for doc_id, row in expected.items():
        doc = found.get(doc_id)
        if doc is None or doc.get("quantity_exact") != row["quantity_exact"] or doc.get(n.PART_ID) != row[n.PART_ID]:
            raise PublishError(f"spot check failed in {collection}: document {doc_id} is missing or differs")


def _verify(api: Collections, collection: str, docs: DataFrame, expected: int, sample: int) -> None:
    """PublishError unless the collection holds the run's documents: their count, and the spot check's sample."""
    indexed = api.count(collection)
    if indexed != expected:
        raise PublishError(f"{collection} holds {indexed} documents, expected {expected}")
    _spot_check(api.url, collection, docs, sample, api.auth)


def _holds(api: Collections, collection: str, docs: DataFrame, expected: int, sample: int) -> bool:
    try:
        _verify(api, collection, docs, expected, sample)
    except (PublishError, requests.RequestException):
        return False
    return True


def publish(spark: SparkSession, conf: dict, lake: str, run_id: str | None = None, url: str | None = None) -> Published:
    url = (url or conf["url"]).rstrip("/")
    api = Collections(url, writer(conf))
    run_id, documents = run_to_publish(spark, lake, run_id)
    alias, collection = conf["alias"], f"{conf['collection_prefix']}{run_id}"
    previous = api.aliases().get(alias)
    existing = api.collections()
    if collection in existing and previous != collection:
        api.delete(collection)           # a half-built leftover of an earlier attempt
        existing.remove(collection)
    if collection not in existing:
        try:
            api.create(collection, conf["configset"], int(conf.get("replicas", 1)))
        except PublishError as err:
            if collection in (_quietly(api.collections) or []):
                _quietly(api.delete, collection)   # a CREATE that failed half-way
            err.run_id = run_id
            raise
    docs = documents.localCheckpoint(eager=True)
    expected = docs.count()
    if collection == previous and _holds(api, collection, docs, expected, int(conf["spot_checks"])):
        log.info("already_served", alias=alias, collection=collection, documents=expected)
        retire_old(api, conf, keep=collection)
        return Published(run_id, collection, expected, previous)   # a retried publish indexes nothing
    try:
        _require_current_schema(url, collection, api.auth)
        docs.foreachPartition(_pusher(f"{url}/{collection}", int(conf["batch_size"]), api.auth))
        requests.get(f"{url}/{collection}/update", params={"commit": "true", "wt": "json"},
                     timeout=TIMEOUT, auth=api.auth).raise_for_status()
        _verify(api, collection, docs, expected, int(conf["spot_checks"]))
    except Exception as err:
        if collection != previous:
            _quietly(api.delete, collection)
        failure = err if isinstance(err, PublishError) else PublishError(
            f"indexing into {collection} failed: {root_cause(err)}")
        failure.run_id = run_id
        raise failure from None
    api.point_alias(alias, collection)
    log.info("alias_swapped", alias=alias, collection=collection, previous=previous, documents=expected)
    retire_old(api, conf, keep=collection)
    return Published(run_id, collection, expected, previous)


def retire_old(api: Collections, conf: dict, keep: str) -> list[str]:
    """Delete the oldest demand collections beyond keep_collections (never the alias target)."""
    ours = [c for c in api.collections() if c.startswith(conf["collection_prefix"])]
    surplus = [c for c in ours if c != keep][: max(0, len(ours) - int(conf["keep_collections"]))]
    for name in surplus:
        api.delete(name)
    return surplus


def rollback(conf: dict, to_run: str | None = None, url: str | None = None) -> tuple[str | None, str]:
    """Point the alias at the previous collection (or at the named run's); returns (from, to)."""
    api = Collections(url or conf["url"], writer(conf))
    alias, prefix = conf["alias"], conf["collection_prefix"]
    current = api.aliases().get(alias)
    ours = [c for c in api.collections() if c.startswith(prefix)]
    if to_run:
        target = f"{prefix}{to_run}"
        if target not in ours:
            raise PublishError(f"no collection {target} in Solr (kept: {', '.join(ours) or 'none'})")
    else:
        older = [c for c in ours if current is None or c < current]
        if not older:
            raise PublishError(f"nothing to roll back to: {current} is the oldest collection kept")
        target = older[-1]
    api.point_alias(alias, target)
    return current, target


def record_publish(spark: SparkSession, lake: str, run_id: str, status: str, collection: str | None) -> None:
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, lk.table_path(lake, n.RUNS)).update(
        condition=F.col(n.RUN_ID) == run_id,
        set={"publish_status": F.lit(status), "published_collection": F.lit(collection)})


def require_reachable(conf: dict, url: str | None = None) -> None:
    """Fail at once, before a night's work, when the Solr that the night will publish to does not answer."""
    from adapters.solr_server import is_up

    url = (url or conf["url"]).rstrip("/")
    if not is_up(url):
        raise PublishError(f"Solr is not reachable at {url}, and this run would publish to it: "
                           "start it with `bomflow solr start`, or run with --no-publish")


def status_lines(conf: dict, url: str | None = None) -> list[str]:
    from adapters.solr_server import is_up

    url = (url or conf["url"]).rstrip("/")
    if not is_up(url):
        return [f"solr: not running at {url} (start it with `bomflow solr start`)"]
    from adapters.solr_server import cluster_status, node_ports

    api = Collections(url, reader(conf))
    state = cluster_status({**conf, "url": url})
    target = state["aliases"].get(conf["alias"])
    lines = [f"solr: up at {url}, {len(state['live_nodes'])} of {len(node_ports(conf))} nodes live "
             f"({', '.join(state['live_nodes'])})"]
    if target:
        lines.append(f"alias {conf['alias']} -> {target}")
    else:
        lines.append(f"alias {conf['alias']} is MISSING: planners get 404; republish the last good run with "
                     f"`bomflow publish --lake LAKE`")
    for name in sorted(c for c in state["replicas"] if c.startswith(conf["collection_prefix"])):
        run = name.removeprefix(conf["collection_prefix"])
        mark = "*" if name == target else " "
        down = state["down_replicas"].get(name)
        health = f"{len(state['replicas'][name]) - len(down or [])}/{len(state['replicas'][name])} replicas active"
        lines.append(f" {mark} {name:<45} run {run:<26} {api.count(name):>9,} docs  {health}")
    return lines


def serving_line(conf: dict, lake_run_id: str | None, url: str | None = None) -> str:
    """What the alias serves right now, asked of Solr (never of the runs table), against the lake's run."""
    from adapters.solr_server import is_up

    url = (url or conf["url"]).rstrip("/")
    if not is_up(url):
        return f"solr: not reachable at {url}: planners get no answer (`bomflow solr start`)"
    try:
        target = Collections(url, reader(conf)).aliases().get(conf["alias"])
    except PublishError as err:
        return f"solr: {err}"
    if target is None:
        return (f"solr: alias {conf['alias']} is MISSING at {url}: planners get 404; "
                f"republish with `bomflow publish --lake LAKE`")
    serves = target.removeprefix(conf["collection_prefix"])
    agrees = "the lake's serving run" if serves == lake_run_id else f"NOT the lake's serving run {lake_run_id}"
    return f"solr: alias {conf['alias']} -> {target} (run {serves}, {agrees})"


def writer(conf: dict):
    from adapters.solr_server import auth
    return auth(conf, "writer")


def reader(conf: dict):
    from adapters.solr_server import auth
    return auth(conf, "reader")


def root_cause(err: BaseException) -> str:
    """The most specific line of an error that may wrap a Python worker's traceback in a JVM one."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception): ", line) and "Py4J" not in line]
    return (causes[-1] if causes else lines[0] if lines else type(err).__name__)[:300]


def _quietly(action, *args):
    try:
        return action(*args)
    except Exception as err:  # cleanup must not hide the original error
        log.warning("cleanup_failed", error=str(err))
        return None
