"""Solr's publish lock: one publish or rollback at a time per Solr, whatever lake it comes from.

A lake's lease keeps two commands of one lake apart. Two lakes publishing into one Solr (a rerun
lake next to the nightly one, two brands' lakes) would each hold their own lease and both move the
alias. The publish lock is the same lease (adapters/lease.py) kept in Solr itself: one document,
id `publish`, in the collection `bomflow_locks`, written with Solr's optimistic concurrency:

    create     an add with _version_ = -1: refused (409) when the document exists
    heartbeat, take over, release
               an add or delete naming the _version_ it read: refused when anyone wrote in between

It is read with real-time get, so no commit is needed to see a write. The collection and its
configset (schemas/solr/locks, uploaded with the Configsets API) are made by the first publish
that finds them missing; its replicas follow solr.replicas as far as nodes are live.
"""
import io
import zipfile

import requests

from adapters import lease
from adapters.solr import TIMEOUT, Collections, PublishError, reader, writer
from pipeline import logs
from pipeline.resources import files

log = logs.get("bomflow.solr_lock")
LOCKS, CONFIGSET, LOCK_ID = "bomflow_locks", "bomflow-locks", "publish"
FIELDS = ("token", "command", "owner", "host", "pid", "lake", "started_at", "heartbeat_at")


class SolrBusy(PublishError):
    """Another publish or rollback holds Solr's publish lock: the alias is untouched."""


class SolrStore:
    """The lease's store in Solr (adapters/lease.py's Store)."""

    def __init__(self, url: str, auth):
        self.url, self.auth, self.where = url.rstrip("/"), auth, f"Solr {url.rstrip('/')}"
        self._versions: dict[str, int] = {}   # token -> the _version_ last read for it

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return requests.request(method, f"{self.url}/{LOCKS}/{path}", timeout=TIMEOUT, auth=self.auth, **kwargs)
        except requests.RequestException as err:
            raise PublishError(f"Solr is not reachable at {self.url} ({type(err).__name__}) for its publish lock; "
                               "start it with `bomflow solr start`") from None

    def _post(self, body) -> bool:
        """One update; False when optimistic concurrency refused it (someone else wrote first)."""
        reply = self._call("POST", "update", params={"commit": "true", "wt": "json"}, json=body)
        if reply.status_code == 409:
            return False
        if not reply.ok:
            raise PublishError(f"Solr's publish lock ({LOCKS}) refused an update (HTTP {reply.status_code}): "
                               f"{reply.text[:300]}")
        return True

    def _write(self, held: lease.Lease, version: int) -> bool:
        return self._post([{"id": LOCK_ID, "_version_": version, **{f: getattr(held, f) for f in FIELDS}}])

    def current(self) -> lease.Lease | None:
        reply = self._call("GET", "get", params={"id": LOCK_ID, "fl": "*,_version_", "wt": "json"})
        if not reply.ok:
            raise PublishError(f"cannot read Solr's publish lock ({LOCKS}): HTTP {reply.status_code}")
        doc = reply.json().get("doc")
        if doc is None:
            return None
        held = lease.Lease(**{f: doc.get(f, "") for f in FIELDS})
        self._versions = {held.token: doc["_version_"]}
        return held

    def create(self, held: lease.Lease) -> bool:
        return self._write(held, -1)

    def take_over(self, stale: lease.Lease, held: lease.Lease) -> bool:
        if stale.token not in self._versions or not self._write(held, self._versions[stale.token]):
            return False
        log.warning("publish_lock_taken_over", where=self.where, stale_holder=stale.describe())
        return True

    def rewrite(self, held: lease.Lease) -> bool:
        now = self.current()
        return now is not None and now.token == held.token and self._write(held, self._versions[held.token])

    def delete(self, held: lease.Lease) -> None:
        now = self.current()
        if now is not None and now.token == held.token:
            self._post({"delete": {"id": LOCK_ID, "_version_": self._versions[held.token]}})


def _configset_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in files("schemas", "solr", "locks").iterdir():
            archive.writestr(item.name, item.read_bytes())
    return out.getvalue()


def ensure_collection(api: Collections, replicas: int) -> None:
    """Create the lock's configset and collection when missing (two first publishers may race: fine)."""
    if LOCKS in api.collections():
        return
    if CONFIGSET not in _configsets(api):
        reply = requests.post(f"{api.url}/admin/configs", params={"action": "UPLOAD", "name": CONFIGSET, "wt": "json"},
                              data=_configset_zip(), headers={"Content-Type": "application/octet-stream"},
                              timeout=TIMEOUT, auth=api.auth)
        if not reply.ok and "already exists" not in reply.text:
            raise PublishError(f"cannot upload the publish lock's configset: HTTP {reply.status_code} "
                               f"{reply.text[:300]}")
    try:
        api.call("CREATE", name=LOCKS, numShards=1, waitForFinalState="true",
                 replicationFactor=max(1, min(replicas, len(api.live_nodes()))),
                 **{"collection.configName": CONFIGSET})
    except PublishError as err:
        if LOCKS not in api.collections():
            raise PublishError(f"cannot create Solr's publish lock collection {LOCKS}: {err}") from None
    log.info("publish_lock_created", collection=LOCKS)


def _configsets(api: Collections) -> list[str]:
    reply = requests.get(f"{api.url}/admin/configs", params={"action": "LIST", "wt": "json"}, timeout=TIMEOUT,
                         auth=api.auth)
    reply.raise_for_status()
    return reply.json().get("configSets", [])


def held(conf: dict, url: str, command: str, lake: str = "", wait_seconds: float | None = None,
         builds_collection: bool = False):
    """Hold Solr's publish lock for the body (a context manager); SolrBusy names the holder when it is taken
    for longer than wait_seconds (default solr.lock_wait_seconds). builds_collection (a publish): first
    check that enough nodes are live for its replicas, so a node down is named as such, whichever node
    leads the lock's own collection."""
    api = Collections(url, writer(conf))
    if builds_collection:
        api.require_live(int(conf.get("replicas", 1)))
    ensure_collection(api, int(conf.get("replicas", 1)))
    wait = float(conf.get("lock_wait_seconds", 0) if wait_seconds is None else wait_seconds)
    return lease.held_in(SolrStore(url, api.auth), command, wait, lake=lake, busy=SolrBusy)


def status_line(conf: dict, url: str | None = None) -> str:
    """Who holds the publish lock, for `bomflow solr status` (as the reader role)."""
    url = (url or conf["url"]).rstrip("/")
    try:
        if LOCKS not in Collections(url, reader(conf)).collections():
            return f"publish lock: none yet ({LOCKS} is made by the first publish)"
        holder = SolrStore(url, reader(conf)).current()
    except PublishError as err:
        return f"publish lock: {err}"
    return "publish lock: free" if holder is None else f"publish lock: held by {holder.describe()}"
