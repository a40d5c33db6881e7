"""The project's own local SolrCloud: `bomflow solr start|stop|status`.

One ZooKeeper and `solr.nodes` Solr nodes (default 2), each its own JVM (adapters/jvm/SolrLauncher.java on
the solr-test-framework classpath that `bomflow setup` fetches), all bound to 127.0.0.1, all state
under solr.home (relative to the state folder, pipeline/resources.py): ZooKeeper's data (collections, aliases, configsets, security.json) in zoo_data/, each
node's cores in node<i>/. Nothing is wiped on start, so the index, the collections and the alias
`demand` survive `bomflow solr stop/start`, a reboot and kill -9.

Ports: nodes at solr.port, solr.port + 10, ...; ZooKeeper at solr.port + 1000 (Solr's own
convention for its embedded ZooKeeper).

Security: BasicAuth on every request and rule-based authorisation, with two users: `writer`
(publish, rollback, collection admin) and `reader` (queries: planners, suppliers). On first start
their random passwords are written to solr.home/credentials (mode 0600), which the clients read;
BOMFLOW_SOLR_USER / BOMFLOW_SOLR_PASSWORD override it. Nothing of it is in conf/.
"""
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from adapters.jars import solr_lib
from pipeline.errors import BomflowError
from pipeline.resources import is_current, on_disk, state_dir, state_path

USER_ENV, PASSWORD_ENV = "BOMFLOW_SOLR_USER", "BOMFLOW_SOLR_PASSWORD"
ROLES = ("writer", "reader")


@dataclass(frozen=True)
class Part:
    name: str          # zk, node1, node2, ...
    port: int
    home: Path


def home(conf: dict) -> Path:
    return state_path(conf["home"])


def node_ports(conf: dict) -> list[int]:
    return [int(conf["port"]) + 10 * i for i in range(int(conf.get("nodes", 2)))]


def zk_host(conf: dict) -> str:
    return f"127.0.0.1:{int(conf.get('zk_port', int(conf['port']) + 1000))}"


def parts(conf: dict) -> list[Part]:
    root = home(conf)
    zk = Part("zk", int(zk_host(conf).rsplit(":", 1)[1]), root / "zoo_data")
    return [zk] + [Part(f"node{i}", port, root / f"node{i}") for i, port in enumerate(node_ports(conf), start=1)]


def node_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/solr"


# --- credentials ---------------------------------------------------------------------------------------------

def credentials_file(conf: dict) -> Path:
    return Path(conf["credentials_file"]) if conf.get("credentials_file") else home(conf) / "credentials"


def _ensure_credentials(conf: dict) -> Path:
    path = credentials_file(conf)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(f"{role} {secrets.token_urlsafe(18)} {role}\n" for role in ROLES)
    return path


def auth(conf: dict, role: str = "writer") -> tuple[str, str] | None:
    """(user, password) for `role`: from the environment, else the credentials file; None if neither."""
    if os.environ.get(USER_ENV) and os.environ.get(PASSWORD_ENV):
        return os.environ[USER_ENV], os.environ[PASSWORD_ENV]
    path = credentials_file(conf)
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] == role:
            return fields[0], fields[1]
    return None


# --- processes -----------------------------------------------------------------------------------------------

def is_up(url: str, timeout: float = 2.0) -> bool:
    """Solr answers at url (a 401 is an answer: it wants credentials)."""
    try:
        reply = requests.get(f"{url}/admin/info/health", params={"wt": "json"}, timeout=timeout)
        return reply.ok or reply.status_code in (401, 403)
    except requests.RequestException:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _running(part: Part) -> bool:
    return _port_open(part.port) if part.name == "zk" else is_up(node_url(part.port))


def _pid_file(conf: dict, part: Part) -> Path:
    return home(conf) / f"{part.name}.pid"


def launcher() -> Path:
    """The launcher compiled once into the state folder, again only when its source changed (java's
    source-file mode would compile it at every start of every part: seconds of CPU each)."""
    source = on_disk("adapters", "jvm", "SolrLauncher.java")
    out = state_dir() / ".solr-launcher"
    stamp, digest = out / "source.sha256", hashlib.sha256(source.read_bytes()).hexdigest()
    if not (out / "SolrLauncher.class").is_file() or not is_current(stamp, digest):
        out.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["javac", "-nowarn", "-cp", f"{solr_lib()}/*", "-d", str(out), str(source)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BomflowError(f"cannot compile the Solr launcher {source}:\n{done.stderr[-2000:]}")
        stamp.write_text(digest)
    return out


def _launch(conf: dict, part: Part) -> subprocess.Popen:
    root = home(conf)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    java = ["java", f"-Xmx{conf.get('heap', '512m')}", f"-Dsolr.log.dir={root / 'logs' / part.name}",
            f"-Dsolr.zkclienttimeout={int(float(conf.get('zk_session_seconds', 30)) * 1000)}",
            *conf.get("jvm_options", []), "-cp", f"{solr_lib()}/*:{launcher()}", "SolrLauncher"]
    if part.name == "zk":
        args = ["zk", str(part.port), str(part.home)]
    else:
        args = ["node", str(part.port), str(part.home), zk_host(conf), conf["configset"],
                str(on_disk("schemas", "solr", "conf")),
                str(_ensure_credentials(conf))]
    log = open(root / "logs" / f"{part.name}.log", "a")
    process = subprocess.Popen(java + args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pid_file(conf, part).write_text(str(process.pid))
    return process


def start(conf: dict, wait_seconds: int = 180) -> str:
    """Start whatever part of the local SolrCloud is not running: ZooKeeper first, then the nodes all at
    once (each registers with ZooKeeper on its own); returns node 1's URL once every replica is active."""
    if not any(solr_lib().glob("*.jar")):
        raise BomflowError(f"Solr's jars are missing in {solr_lib()}: run `bomflow setup`")
    deadline = time.monotonic() + wait_seconds
    zk, *nodes = parts(conf)
    for group in ([zk], nodes):
        launched = {part: _launch(conf, part) for part in group if not _running(part)}
        for part, process in launched.items():
            _wait_for_port(conf, part, process, deadline, wait_seconds)
    _wait_for_replicas(conf, deadline)
    return conf["url"]


def _wait_for_port(conf: dict, part: Part, process: subprocess.Popen, deadline: float, wait_seconds: int) -> None:
    """Until the launched part answers on its port; a clear error if it exits first or the deadline passes."""
    while not _running(part):
        if process.poll() is not None:
            raise BomflowError(f"Solr {part.name} exited during start (code {process.returncode}); "
                               f"see {home(conf) / 'logs' / (part.name + '.log')}")
        if time.monotonic() > deadline:
            stop(conf)
            raise BomflowError(f"Solr {part.name} did not answer on port {part.port} within {wait_seconds} s")
        time.sleep(0.5)


def _wait_for_replicas(conf: dict, deadline: float) -> None:
    """Until every node is live and every replica of every collection is active again (after a restart)."""
    while time.monotonic() < deadline:
        try:
            state = cluster_status(conf)
        except (requests.RequestException, KeyError, ValueError):
            time.sleep(1)
            continue
        if len(state["live_nodes"]) >= len(node_ports(conf)) and not state["down_replicas"]:
            return
        time.sleep(1)
    raise BomflowError("Solr started, but not every replica became active; see `bomflow solr status`")


def cluster_status(conf: dict) -> dict:
    """Live nodes, collections with their replica states, the aliases (one CLUSTERSTATUS call)."""
    reply = requests.get(f"{conf['url'].rstrip('/')}/admin/collections", auth=auth(conf, "reader"), timeout=30,
                         params={"action": "CLUSTERSTATUS", "wt": "json"})
    reply.raise_for_status()
    cluster = reply.json()["cluster"]
    replicas = {name: [(r["node_name"], r["state"]) for shard in c["shards"].values() for r in shard["replicas"].values()]
                for name, c in cluster.get("collections", {}).items()}
    live = set(cluster.get("live_nodes", []))
    down = {name: [node for node, state in rs if state != "active" or node not in live] for name, rs in replicas.items()}
    return {"live_nodes": sorted(live), "replicas": replicas, "aliases": cluster.get("aliases", {}),
            "down_replicas": {name: nodes for name, nodes in down.items() if nodes}}


def stop(conf: dict, wait_seconds: int = 20, only: str | None = None) -> bool:
    """Stop the parts started by `start` (the nodes together, ZooKeeper after them), or only the named
    one; False if none was running."""
    chosen = [part for part in parts(conf) if only in (None, part.name)]
    nodes = _signal(conf, [part for part in chosen if part.name != "zk"], signal.SIGTERM, wait_seconds)
    return _signal(conf, [part for part in chosen if part.name == "zk"], signal.SIGTERM, wait_seconds) or nodes


def kill(conf: dict, name: str) -> bool:
    """kill -9 of one part (tests of what survives a crash)."""
    return _signal(conf, [next(p for p in parts(conf) if p.name == name)], signal.SIGKILL, 10)


def _signal(conf: dict, group: list[Part], sig: int, wait_seconds: int) -> bool:
    """Signal every running part of the group, then wait for all of them (SIGKILL after wait_seconds)."""
    signalled = []
    for part in group:
        pid_file = _pid_file(conf, part)
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        try:
            os.killpg(pid, sig)
            signalled.append(pid)
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in signalled):
        time.sleep(0.2)
    for pid in signalled:
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
    return bool(signalled)


def _alive(pid: int) -> bool:
    """The process runs (a zombie child of ours is reaped and counts as gone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:   # not our child
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
