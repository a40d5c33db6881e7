"""One writer at a time on a lake: a lease file, `<lake>/_bomflow_lease.json`.

Every command that writes the lake or serves from it (run, partial run, restore, maintain,
publish, export) holds the lease while it works. Taking it is an exclusive create (a hard link of the complete file), so
of two commands started together exactly one gets it; the other is refused at once with the
holder's name, or waits for it with `--wait SECONDS`.

The holder rewrites the file every `heartbeat_seconds`. A lease whose heartbeat is older than
`stale_after_seconds` belongs to a process that died (SIGKILL, a lost host): the next command
takes it over. Taking over is a rename of the stale file to a unique name, which only one taker
can win, followed by the same exclusive create. A lease whose pid is gone on this host is stale
at once.

The lake must be on a local or POSIX-shared filesystem for link and rename to be atomic.
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
from pathlib import Path

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

    def describe(self) -> str:
        return (f"`bomflow {self.command}` by {self.owner} on {self.host} (pid {self.pid}), "
                f"started {self.started_at}, last heartbeat {self.heartbeat_at}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _path(lake: str) -> Path:
    return Path(lake) / LEASE_FILE


def current(lake: str) -> Lease | None:
    """The lease on the lake, or None when it is free (or the file is half-written)."""
    try:
        return Lease(**json.loads(_path(lake).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def is_stale(lease: Lease, stale_after: float) -> bool:
    age = (datetime.now(timezone.utc) - datetime.fromisoformat(lease.heartbeat_at)).total_seconds()
    if age > stale_after:
        return True
    if lease.host == socket.gethostname():
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def _create(path: Path, lease: Lease) -> bool:
    """Create the lease file with its whole content, or False if it exists: the content is written to a
    file of our own first and hard-linked into place (link fails if the name exists), so a reader
    never finds an empty or half-written lease."""
    staging = path.with_name(f"{path.name}.{lease.token}")
    staging.write_text(json.dumps(asdict(lease)))
    try:
        os.link(staging, path)
        return True
    except FileExistsError:
        return False
    finally:
        staging.unlink(missing_ok=True)


def _rewrite(path: Path, lease: Lease) -> None:
    """Replace the lease's content atomically (a reader never sees half a file)."""
    staging = path.with_name(f"{path.name}.{lease.token}")
    staging.write_text(json.dumps(asdict(lease)))
    os.replace(staging, path)


def acquire(lake: str, command: str, wait_seconds: float = 0, stale_after: float = STALE_AFTER_SECONDS) -> Lease:
    """Take the lake's lease or raise LeaseHeld naming the holder (after waiting up to wait_seconds)."""
    Path(lake).mkdir(parents=True, exist_ok=True)
    path = _path(lake)
    now = _now()
    mine = Lease(token=uuid.uuid4().hex, command=command, owner=os.environ.get("USER", "unknown"),
                 host=socket.gethostname(), pid=os.getpid(), started_at=now, heartbeat_at=now)
    deadline = time.monotonic() + wait_seconds
    while True:
        if _create(path, mine):
            log.info("lease_taken", lake=lake, command=command)
            return mine
        holder = current(lake)
        if holder is not None and is_stale(holder, stale_after):
            try:   # only one taker wins this rename; the loser finds the lease taken on its next round
                os.rename(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}"))
                log.warning("lease_taken_over", lake=lake, stale_holder=holder.describe())
            except FileNotFoundError:
                pass
            continue
        if time.monotonic() >= deadline:
            who = holder.describe() if holder else "another command (its lease file is being written)"
            raise LeaseHeld(f"lake {lake} is busy: {who}. Wait for it to finish, "
                            f"or pass --wait SECONDS; a lease older than {stale_after:g} s is taken over")
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def release(lake: str, lease: Lease) -> None:
    """Give the lease back, if it is still ours (a takeover after we went stale is left alone)."""
    holder = current(lake)
    if holder is not None and holder.token == lease.token:
        _path(lake).unlink(missing_ok=True)
        log.info("lease_released", lake=lake, command=lease.command)


@contextmanager
def held(lake: str, command: str, wait_seconds: float | None = None, settings: dict | None = None):
    """Hold the lake's lease for the body, with a heartbeat thread; always released at the end.
    settings: conf's `lease` section (stale_after_seconds, heartbeat_seconds)."""
    settings = settings or {}
    heartbeat = float(settings.get("heartbeat_seconds", HEARTBEAT_SECONDS))
    lease = acquire(lake, command, wait_seconds or 0, float(settings.get("stale_after_seconds", STALE_AFTER_SECONDS)))
    stop = threading.Event()

    def beat():
        while not stop.wait(heartbeat):
            holder = current(lake)
            if holder is None or holder.token != lease.token:
                log.error("lease_lost", lake=lake, holder=holder.describe() if holder else None)
                return
            lease.heartbeat_at = _now()
            _rewrite(_path(lake), lease)

    thread = threading.Thread(target=beat, name="bomflow-lease", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join(timeout=5)
        release(lake, lease)
