"""Where the source and the lake live: a local folder or any Hadoop filesystem URI.

`--source` and `--lake` may be a local path, `file:///…`, `hdfs://…`, `s3a://…`, `abfss://…`. Locations
stay strings end to end: join() keeps a URI's scheme and authority, where pathlib would turn
`s3a://bucket/lake` into `s3a:/bucket/lake`. Listing, reading and writing small files (the source's
folders, the Delta logs, a remote lake's lease and Data Docs) go through the Hadoop FileSystem of the
Spark session's JVM (`FileSystem`), the same code that Spark and Delta use for the tables, configured
by the session's `spark.hadoop.*` conf. A local lake's lease uses the os (`LocalFiles`), so that it
can be taken before Spark starts. Depth: docs/setup.md "Where the source and the lake live".
"""
import os
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import SparkSession


def scheme(location: str) -> str:
    """The URI scheme, '' for a plain path (a Windows drive letter is no scheme)."""
    found = urlparse(str(location)).scheme
    return found if len(found) > 1 else ""


def is_local(location: str) -> bool:
    """A plain path or a file: URI: reachable through the os, no Spark needed."""
    return scheme(location) in ("", "file")


def local_path(location: str) -> str:
    """The os path of a local location (file:///data/lake -> /data/lake)."""
    return urlparse(str(location)).path if scheme(location) == "file" else str(location)


def _java_error_is(err, *names: str) -> bool:
    """A Py4JJavaError whose Java exception's class name contains one of names."""
    return any(name in err.java_exception.getClass().getName() for name in names)


def join(location: str, *parts: str) -> str:
    """location/part/part, the scheme and authority kept (hdfs://nn:8020/lake + runs -> hdfs://nn:8020/lake/runs)."""
    joined = str(location).rstrip("/") or ("/" if str(location).startswith("/") else "")
    for part in parts:
        joined = f"{joined.rstrip('/')}/{str(part).strip('/')}"
    return joined


class FileSystem:
    """The Hadoop FileSystem behind a location, through the session's JVM (py4j)."""

    def __init__(self, spark: SparkSession, location: str):
        self._jvm, self._gateway = spark.sparkContext._jvm, spark.sparkContext._gateway
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self.fs = self._filesystem(location)

    def _filesystem(self, location: str):
        """The location's Hadoop FileSystem; a BomflowError naming the scheme when Spark has none for it
        (s3a needs hadoop-aws, abfss hadoop-azure on Spark's classpath)."""
        from py4j.protocol import Py4JJavaError

        from pipeline.errors import BomflowError

        try:
            return self.path(location).getFileSystem(self._conf)
        except Py4JJavaError as err:
            if not _java_error_is(err, "UnsupportedFileSystemException"):
                raise
            raise BomflowError(f"{location}: Spark has no Hadoop filesystem for '{scheme(location)}://' "
                               "(s3a needs the hadoop-aws jar, abfss hadoop-azure, of Spark's Hadoop version, "
                               "on its classpath: spark.jars.packages in a conf/*.yaml)") from None

    def path(self, location: str):
        return self._jvm.org.apache.hadoop.fs.Path(str(location))

    def is_dir(self, location: str) -> bool:
        path = self.path(location)
        return bool(self.fs.exists(path) and self.fs.getFileStatus(path).isDirectory())

    def exists(self, location: str) -> bool:
        return bool(self.fs.exists(self.path(location)))

    def names(self, location: str) -> list[str]:
        """The names in a folder ([] when it does not exist)."""
        path = self.path(location)
        if not self.fs.exists(path):
            return []
        return [status.getPath().getName() for status in self.fs.listStatus(path)]

    def mkdirs(self, location: str) -> None:
        self.fs.mkdirs(self.path(location))

    def read_text(self, location: str) -> str | None:
        """A small file's text; None when it does not exist (or vanished while read)."""
        from py4j.protocol import Py4JJavaError

        try:
            stream = self.fs.open(self.path(location))
        except Py4JJavaError as err:
            if _java_error_is(err, "FileNotFoundException"):
                return None
            raise
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
        finally:
            stream.close()

    def write_text(self, location: str, text: str) -> None:
        """A new small file (replacing one of the same name)."""
        stream = self.fs.create(self.path(location), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def move(self, source: str, target: str) -> bool:
        """Rename, never replacing: False when target exists or source does not (atomic on HDFS)."""
        from py4j.protocol import Py4JJavaError

        try:
            return bool(self.fs.rename(self.path(source), self.path(target)))
        except Py4JJavaError as err:   # some filesystems raise where HDFS answers false
            if _java_error_is(err, "FileAlreadyExistsException", "FileNotFoundException"):
                return False
            raise

    def move_aside(self, source: str, target: str) -> bool:
        """Rename to a name nobody else uses; False when source is gone."""
        return self.move(source, target)

    def replace(self, source: str, target: str) -> None:
        """Rename over an existing target in one step (FileContext's rename with OVERWRITE)."""
        rename = self._jvm.org.apache.hadoop.fs.Options.Rename
        overwrite = self._gateway.new_array(rename, 1)
        overwrite[0] = rename.OVERWRITE
        context = self._jvm.org.apache.hadoop.fs.FileContext.getFileContext(self.fs.getUri(), self._conf)
        context.rename(self.path(source), self.path(target), overwrite)

    def delete(self, location: str, recursive: bool = False) -> None:
        self.fs.delete(self.path(location), recursive)

    def put(self, local_folder: str, location: str) -> None:
        """Copy a local folder (or file) to location."""
        self.fs.copyFromLocalFile(False, True, self.path(Path(local_folder).resolve().as_uri()), self.path(location))


class LocalFiles:
    """FileSystem's small-file operations for a local location, through the os: a hard link is the
    no-replace rename (link fails if the name exists), which POSIX rename is not."""

    def read_text(self, location: str) -> str | None:
        try:
            with open(local_path(location), encoding="utf-8") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def write_text(self, location: str, text: str) -> None:
        with open(local_path(location), "w", encoding="utf-8") as file:
            file.write(text)

    def move(self, source: str, target: str) -> bool:
        try:
            os.link(local_path(source), local_path(target))
        except (FileExistsError, FileNotFoundError):
            return False
        os.unlink(local_path(source))
        return True

    def move_aside(self, source: str, target: str) -> bool:
        """Rename to a name nobody else uses (atomic); False when source is gone."""
        try:
            os.rename(local_path(source), local_path(target))
            return True
        except FileNotFoundError:
            return False

    def replace(self, source: str, target: str) -> None:
        os.replace(local_path(source), local_path(target))

    def delete(self, location: str, recursive: bool = False) -> None:
        try:
            os.unlink(local_path(location))
        except FileNotFoundError:
            pass

    def mkdirs(self, location: str) -> None:
        os.makedirs(local_path(location), exist_ok=True)


def files_for(location: str, spark: SparkSession | None = None):
    """LocalFiles for a local location, else the Hadoop FileSystem (which needs the session)."""
    if is_local(location):
        return LocalFiles()
    if spark is None:
        raise ValueError(f"{location} is on a Hadoop filesystem: reaching it needs the Spark session")
    return FileSystem(spark, location)
