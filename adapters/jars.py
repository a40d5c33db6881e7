"""`bomflow setup`: fetch the JVM parts from Maven Central and put Delta on Spark's classpath.

An installed bomflow has no Makefile, so the package does this itself (`make setup` calls it too):

- Delta's jars (adapters/jvm/delta-pom.xml) into <state>/.jars, then copied into pyspark's own
  jars folder, so that every way of starting Spark from this environment (python, the bomflow CLI,
  plain spark-submit, a standalone master/worker) has Delta with no Ivy resolution and no network;
- the local Solr's classpath (adapters/jvm/solr-pom.xml) into <state>/.solr-lib.

Maven (`mvn`, with Java 17+) resolves the transitive dependencies; each folder is fetched again
only when its pom changed (a stamp holds the pom's sha256). <state> is pipeline.resources.state_dir().
"""
import filecmp
import hashlib
import shutil
import subprocess
from pathlib import Path

from pipeline.errors import BomflowError
from pipeline.resources import files, is_current, on_disk, state_dir

MAVEN_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
STAMP = ".fetched"
DELTA_JARS, SOLR_LIB = ".jars", ".solr-lib"


def fetch(pom: str, into: Path, runtime_only: bool = False, folder: tuple[str, ...] = ("adapters", "jvm")) -> bool:
    """mvn copy-dependencies of a packaged pom (in `folder` of the packages) into `into`; False when the
    stamp says it is done."""
    digest = hashlib.sha256(files(*folder, pom).read_bytes()).hexdigest()
    stamp = into / STAMP
    if is_current(stamp, digest) and any(into.glob("*.jar")):
        return False
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise BomflowError(f"bomflow setup needs {tool} on the PATH (Java 17+ and Maven fetch the jars)")
    into.mkdir(parents=True, exist_ok=True)
    command = ["mvn", "--batch-mode", "--quiet", "-f", str(on_disk(*folder, pom)),
               f"{MAVEN_PLUGIN}:copy-dependencies", f"-DoutputDirectory={into}",
               *(["-DincludeScope=runtime"] if runtime_only else [])]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BomflowError(f"Maven could not fetch {pom} into {into}:\n{(done.stdout + done.stderr)[-2000:]}")
    stamp.write_text(digest + "\n")
    return True


def install(source: Path, spark_jars: Path) -> int:
    """Copy source's jars into pyspark's jars folder (only those that differ); returns how many."""
    copied = 0
    for jar in sorted(source.glob("*.jar")):
        target = spark_jars / jar.name
        if not target.exists() or not filecmp.cmp(jar, target, shallow=False):
            shutil.copy2(jar, target)
            copied += 1
    return copied


def delta_jars() -> Path:
    return state_dir() / DELTA_JARS


def solr_lib() -> Path:
    """The local Solr's classpath (adapters/solr_server.py starts its JVMs on it)."""
    return state_dir() / SOLR_LIB


def spark_jars() -> Path:
    import pyspark
    return Path(pyspark.__file__).parent / "jars"


def setup(solr: bool = True) -> list[str]:
    """Everything `bomflow setup` does; returns what it did, a line each."""
    delta, target = delta_jars(), spark_jars()
    lines = [f"Delta jars: {'fetched into' if fetch('delta-pom.xml', delta) else 'already in'} {delta}"]
    copied = install(delta, target)
    lines.append(f"Delta on Spark's classpath: {copied} jar(s) copied into {target}" if copied
                 else f"Delta on Spark's classpath: {target} has them")
    if solr:
        lib = solr_lib()
        lines.append(f"Solr classpath: {'fetched into' if fetch('solr-pom.xml', lib, runtime_only=True) else 'already in'} {lib}")
    return lines
