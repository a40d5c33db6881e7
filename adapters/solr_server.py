"""The project's own local SolrCloud: `bomflow solr start|stop|status`.

One Solr node with an embedded ZooKeeper (solr/SolrLauncher.java on the
solr-test-framework classpath fetched by Maven), bound to 127.0.0.1, in its own
JVM. Its index lives under solr.home and starts empty on every start: the lake
is the system of record, `bomflow publish` refills Solr from it.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from pipeline.errors import BomflowError

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "solr" / "SolrLauncher.java"
LIBS = ROOT / "solr" / "lib"
CONFIGSET_DIR = ROOT / "schemas" / "solr" / "conf"
READY = "SOLR_READY"


def _home(conf: dict) -> Path:
    home = Path(conf["home"])
    return home if home.is_absolute() else ROOT / home


def is_up(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{url}/admin/info/system", params={"wt": "json"}, timeout=timeout).ok
    except requests.RequestException:
        return False


def start(conf: dict, wait_seconds: int = 120) -> str:
    """Start the local Solr unless it already answers; returns its URL."""
    url = conf["url"]
    if is_up(url):
        return url
    if not any(LIBS.glob("*.jar")):
        raise BomflowError("Solr's jars are missing: run `make setup`")
    home = _home(conf)
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "solr.log", "w")
    cmd = ["java", f"-Xmx{conf.get('heap', '768m')}", f"-Dsolr.log.dir={home / 'logs'}",
           "-cp", f"{LIBS}/*", str(LAUNCHER), str(conf["port"]), str(home / "node"), conf["configset"],
           str(CONFIGSET_DIR)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    (home / "solr.pid").write_text(str(process.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BomflowError(f"Solr exited during start (code {process.returncode}); see {home / 'solr.log'}")
        if is_up(url):
            return url
        time.sleep(1)
    stop(conf)
    raise BomflowError(f"Solr did not answer at {url} within {wait_seconds} s; see {home / 'solr.log'}")


def stop(conf: dict, wait_seconds: int = 10) -> bool:
    """Stop the local Solr started by `start`; False if none was running."""
    pid_file = _home(conf) / "solr.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
