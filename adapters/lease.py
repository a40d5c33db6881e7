"""One writer at a time: a lease, held while a command works, heartbeated, taken over when stale.

The lake's lease is a file, `<lake>/_bomflow_lease.json` (FileStore): every command that writes the
lake or serves from it (run, partial run, restore, maintain, publish, export) holds it while it
works. Solr's publish lock (adapters/solr_lock.py) is the same lease in another store, so that
publishes from two lakes into one Solr never interleave.

Taking a lease is an exclusive create, so of two commands started together exactly one gets it; the
other is refused at once with the holder's name, or waits for it with `--wait SECONDS`. The holder
rewrites it every `heartbeat_seconds`. A lease whose heartbeat is older than `stale_after_seconds`
belongs to a process that died (SIGKILL, a lost host): the next command takes it over, and of two
takers only one wins (each store's take_over is a compare-and-swap on the stale holder). A lease
whose pid is gone on this host is stale at once.

FileStore: the complete file is written beside the lease file and moved in without replacing (locally
a hard link, which fails if the name exists; on a Hadoop filesystem a rename, which does); taking over
renames the stale file to a unique name and puts back whatever it renamed if that was not the stale
holder (another taker's fresh lease). Each step is atomic on a local or POSIX-shared disk and on HDFS
(the NameNode renames). On an object store (s3a) a rename is a copy and a delete: two commands started
in the same second could both take the lease there, so let one scheduler start bomflow's commands.
"""
import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Protocol

from adapters import storage
from pipeline import logs
from pipeline.errors import BomflowError, Exit

log = logs.get("bomflow.lease")
LEASE_FILE = "_bomflow_lease.json"
STALE_AFTER_SECONDS = 600
HEARTBEAT_SECONDS = 30


class LeaseHeld(BomflowError):
    """Another command holds the lake."""
    exit_code = Exit.LAKE_BUSY


@dataclass
class Lease:
    token: str
    command: str
    owner: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str
    lake: str = ""   # the holder's lake, where the store is not the lake itself (Solr's publish lock)

    def describe(self) -> str:
        of = f" of lake {self.lake}" if self.lake else ""
        return (f"`bomflow {self.command}`{of} by {self.owner} on {self.host} (pid {self.pid}), "
                f"started {self.started_at}, last heartbeat {self.heartbeat_at}")


class Store(Protocol):
    """Where a lease lives. Every write is atomic; create and take_over are exclusive."""
    where: str   # for messages: "lake /data/lake"

    def current(self) -> Lease | None: ...
    def create(self, lease: Lease) -> bool: ...                      # False: a lease exists
    def take_over(self, stale: Lease, lease: Lease) -> bool: ...     # False: stale is no longer there
    def rewrite(self, lease: Lease) -> bool: ...                     # False: the lease is no longer ours
    def delete(self, lease: Lease) -> None: ...                      # only if it is still ours


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_HELD_HERE: set[str] = set()   # tokens this process holds now: a lease naming our pid with another token is dead


def is_stale(lease: Lease, stale_after: float) -> bool:
    age = (datetime.now(timezone.utc) - datetime.fromisoformat(lease.heartbeat_at)).total_seconds()
    if age > stale_after:
        return True
    if lease.host == socket.gethostname():
        if lease.pid == os.getpid():   # ours, yet not held: a release that failed (its store was down)
            return lease.token not in _HELD_HERE
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


class FileStore:
    """The lake's lease file, on a local disk (os) or a Hadoop filesystem (adapters/storage.py)."""

    def __init__(self, lake: str, spark=None):
        self.files = storage.files_for(lake, spark)
        self.path, self.where = storage.join(lake, LEASE_FILE), f"lake {lake}"

    def _read(self, path: str) -> Lease | None:
        try:
            return Lease(**json.loads(self.files.read_text(path) or ""))
        except (ValueError, TypeError):
            return None

    def _staged(self, lease: Lease) -> str:
        """The lease written whole to a file of its own beside the lease file, ready to move in."""
        staging = f"{self.path}.{lease.token}"
        self.files.write_text(staging, json.dumps(asdict(lease)))
        return staging

    def current(self) -> Lease | None:
        """The lease, or None when it is free (a half-written file is never seen: see create)."""
        return self._read(self.path)

    def create(self, lease: Lease) -> bool:
        """The content is written to a file of our own first and moved into place without replacing
        (fails if the name exists), so a reader never finds an empty or half-written lease."""
        staging = self._staged(lease)
        try:
            return self.files.move(staging, self.path)
        finally:
            self.files.delete(staging)

    def take_over(self, stale: Lease, lease: Lease) -> bool:
        aside = f"{self.path}.stale-{uuid.uuid4().hex}"
        if not self.files.move_aside(self.path, aside):
            return False
        moved = self._read(aside)
        if moved is None or moved.token != stale.token:   # another taker's fresh lease: put it back
            self.files.move(aside, self.path)
            self.files.delete(aside)
            return False
        self.files.delete(aside)
        log.warning("lease_taken_over", where=self.where, stale_holder=stale.describe())
        return self.create(lease)

    def rewrite(self, lease: Lease) -> bool:
        holder = self.current()
        if holder is None or holder.token != lease.token:
            return False
        self.files.replace(self._staged(lease), self.path)   # a reader never sees half a file
        return True

    def delete(self, lease: Lease) -> None:
        holder = self.current()
        if holder is not None and holder.token == lease.token:
            self.files.delete(self.path)


def current(lake: str, spark=None) -> Lease | None:
    """The lease on the lake, or None when it is free (spark: for a lake on a Hadoop filesystem)."""
    return FileStore(lake, spark).current()


def acquire(store: Store, command: str, wait_seconds: float = 0, stale_after: float = STALE_AFTER_SECONDS,
            lake: str = "", busy: type[BomflowError] = LeaseHeld) -> Lease:
    """Take the store's lease or raise `busy` naming the holder (after waiting up to wait_seconds)."""
    now = _now()
    mine = Lease(token=uuid.uuid4().hex, command=command, owner=os.environ.get("USER", "unknown"),
                 host=socket.gethostname(), pid=os.getpid(), started_at=now, heartbeat_at=now, lake=lake)
    deadline = time.monotonic() + wait_seconds
    while True:
        if store.create(mine):
            log.info("lease_taken", where=store.where, command=command)
            _HELD_HERE.add(mine.token)
            return mine
        holder = store.current()
        if holder is not None and is_stale(holder, stale_after):
            if store.take_over(holder, mine):   # only one taker wins; a loser finds it taken on its next round
                _HELD_HERE.add(mine.token)
                return mine
            continue
        if time.monotonic() >= deadline:
            who = holder.describe() if holder else "another command (its lease is being written)"
            raise busy(f"{store.where} is busy: {who}. Wait for it to finish, "
                       f"or pass --wait SECONDS; a lease older than {stale_after:g} s is taken over")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


@contextmanager
def held(lake: str, command: str, wait_seconds: float | None = None, settings: dict | None = None, spark=None):
    """Hold the lake's lease for the body (see held_in); settings: conf's `lease` section; spark: the
    session, needed only for a lake on a Hadoop filesystem (adapters/session.py: leased)."""
    store = FileStore(lake, spark)
    store.files.mkdirs(lake)
    with held_in(store, command, wait_seconds, settings) as lease:
        yield lease


@contextmanager
def held_in(store: Store, command: str, wait_seconds: float | None = None, settings: dict | None = None,
            lake: str = "", busy: type[BomflowError] = LeaseHeld):
    """Hold the store's lease for the body, with a heartbeat thread; always released at the end.
    settings: stale_after_seconds, heartbeat_seconds."""
    settings = settings or {}
    heartbeat = float(settings.get("heartbeat_seconds", HEARTBEAT_SECONDS))
    lease = acquire(store, command, wait_seconds or 0, float(settings.get("stale_after_seconds", STALE_AFTER_SECONDS)),
                    lake, busy)
    stop = threading.Event()

    def beat():
        while not stop.wait(heartbeat):
            lease.heartbeat_at = _now()
            try:
                kept = store.rewrite(lease)
            except Exception as err:  # noqa: BLE001 - the store is down for now (Solr restarting): beat again
                log.warning("lease_heartbeat_failed", where=store.where, error=str(err).splitlines()[0][:300]
                            if str(err) else type(err).__name__)
                continue
            if not kept:
                holder = store.current()
                log.error("lease_lost", where=store.where, holder=holder.describe() if holder else None)
                return

    thread = threading.Thread(target=beat, name="bomflow-lease", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(timeout=5)
        _HELD_HERE.discard(lease.token)
        try:
            store.delete(lease)
            log.info("lease_released", where=store.where, command=command)
        except Exception as err:  # must not hide the body's own error; the lease goes stale and is taken over
            log.warning("lease_release_failed", where=store.where, command=command, error=str(err)[:300])
