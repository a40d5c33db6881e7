"""A real HDFS for the tests: Hadoop's MiniDFSCluster, a NameNode and a DataNode on 127.0.0.1 in a JVM
of their own (hadoop-client-minicluster from Maven Central, tests/hdfs-pom.xml), driven through py4j."""
import re
from contextlib import contextmanager
from pathlib import Path

from adapters import jars
from pipeline.resources import state_dir
from tests.builders import SHORT_LIVED_JVM

HDFS_LIB = ".hdfs-lib"


def spark_hadoop_version() -> str:
    """The Hadoop version pyspark ships (its hadoop-client-api jar)."""
    found = [m.group(1) for jar in jars.spark_jars().glob("hadoop-client-api-*.jar")
             if (m := re.match(r"hadoop-client-api-(.+)\.jar$", jar.name))]
    assert len(found) == 1, f"pyspark ships {len(found)} hadoop-client-api jars"
    return found[0]


def classpath() -> list[Path]:
    """The minicluster's jars (fetched once into the state folder), refused unless Spark's Hadoop version."""
    lib = state_dir() / HDFS_LIB
    jars.fetch("hdfs-pom.xml", lib, folder=("tests",))
    minicluster = sorted(lib.glob("hadoop-client-minicluster-*.jar"))
    wanted = f"hadoop-client-minicluster-{spark_hadoop_version()}.jar"
    assert [j.name for j in minicluster] == [wanted], (
        f"{lib} holds {[j.name for j in minicluster]}, Spark needs {wanted}: change tests/hdfs-pom.xml")
    return sorted(lib.glob("*.jar"))


@contextmanager
def running(base: Path):
    """An HDFS with one DataNode, its blocks under base; yields its URI (hdfs://localhost:<port>)."""
    from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

    base.mkdir(parents=True, exist_ok=True)
    with open(base / "hdfs.log", "w") as log:
        port, process = launch_gateway(classpath=":".join(map(str, classpath())), die_on_exit=True,
                                       return_proc=True, redirect_stdout=log, redirect_stderr=log,
                                       javaopts=SHORT_LIVED_JVM["JAVA_TOOL_OPTIONS"].split())
    gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
    cluster = None
    try:
        conf = gateway.jvm.org.apache.hadoop.conf.Configuration()
        conf.set("hdfs.minidfs.basedir", str(base / "data"))
        cluster = gateway.jvm.org.apache.hadoop.hdfs.MiniDFSCluster.Builder(conf).numDataNodes(1).build()
        cluster.waitActive()
        yield cluster.getURI().toString()
    finally:
        try:
            if cluster is not None:
                cluster.shutdown()
            gateway.shutdown()
        finally:
            process.kill()
            process.wait()
