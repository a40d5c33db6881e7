"""Copy the Delta Lake jars fetched by Maven into pyspark's own jars folder.

`make setup` calls this, so that every way of starting Spark from this
virtualenv (python, the bomflow CLI, plain spark-submit, a standalone
master/worker) has Delta on its classpath with no Ivy resolution and no network.
"""
import filecmp
import shutil
import sys
from pathlib import Path


def install(source: Path, spark_jars: Path) -> int:
    copied = 0
    for jar in sorted(source.glob("*.jar")):
        target = spark_jars / jar.name
        if not target.exists() or not filecmp.cmp(jar, target, shallow=False):
            shutil.copy2(jar, target)
            copied += 1
    return copied


def main() -> None:
    source, spark_jars = Path(sys.argv[1]), Path(sys.argv[2])
    if not any(source.glob("*.jar")):
        sys.exit(f"no Delta jars in {source}: run `make setup`")
    copied = install(source, spark_jars)
    if copied:
        print(f"installed {copied} Delta jar(s) into {spark_jars}")


if __name__ == "__main__":
    main()
