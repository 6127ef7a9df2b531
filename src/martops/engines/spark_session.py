"""The Spark session a Spark warehouse computes in: one per process, started on first use.

Starting one costs 15-25 s (a JVM), so it is kept for the life of the process and shared by every
warehouse opened in it (tests open many in one session). Inside a Spark application that already
has a session (spark-submit, a Databricks job) that session is used as it is: its master and
settings are the cluster's. A session martops starts in local mode listens on 127.0.0.1 only and
shows no web UI.

pyspark is an optional dependency: without it (or without Java) the error says what to install.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from martops.config import WarehouseConfig
from martops.errors import ConfigError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'martops[spark]'"

DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # a table's partitions are its folders, found by listing: no partition bookkeeping in a catalog
    # that would have to be rebuilt from the files in every new process
    "spark.sql.hive.manageFilesourcePartitions": "false",
    # the SQL martops compiles is ANSI-neutral; Spark 4 turns ANSI mode on, which makes a cast of
    # a bad value an error where DuckDB's TRY_CAST semantics (and Ibis's) expect NULL
    "spark.sql.ansi.enabled": "false",
}
LOCAL = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}
"""Settings of a local-mode session: nothing listens beyond 127.0.0.1, few shuffle partitions."""


def pyspark_module() -> Any:
    """The pyspark package; ConfigError with the install hint when it is missing."""
    try:
        import pyspark  # noqa: F401
        import pyspark.sql  # noqa: F401
    except ImportError:
        raise ConfigError(f"the Spark warehouse needs pyspark, which is not installed: {INSTALL_HINT} "
                          "(and Java 17: JAVA_HOME or java on PATH)") from None
    return pyspark


def active() -> Any:
    """The process's running Spark session, or None."""
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def session(config: WarehouseConfig, master: str | None = None, catalog_dir: str | None = None) -> Any:
    """The process's Spark session, started with `master` (else `config.master`) when none runs.

    `catalog_dir`: where a local session's catalog keeps its (empty) schema folders; the tables
    carry their own LOCATION. Spark's default is ./spark-warehouse, litter in the working directory.

    Raises ConfigError when pyspark or Java is missing, or the session cannot start.
    """
    pyspark_module()
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    master = master or config.master
    if running is not None:
        have = running.sparkContext.master
        if master != have and not _embedded():
            log.warning("a Spark session (master %s) is already running in this process; using it, not %s",
                        have, master)
        return running
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise ConfigError("the Spark warehouse needs Java 17 (JAVA_HOME, or java on PATH), which was not found; "
                          "install a JDK 17, e.g. apt-get install openjdk-17-jre-headless")
    builder = SparkSession.builder.appName("martops")
    if not _embedded():  # under spark-submit the master and settings are the submitter's
        builder = builder.master(master)
    local = master.startswith("local") and not _embedded()
    settings = {**DEFAULTS, **(LOCAL if local else {}), **config.spark_conf}
    if local and catalog_dir and "spark.sql.warehouse.dir" not in config.spark_conf:
        settings["spark.sql.warehouse.dir"] = catalog_dir
    for key, value in settings.items():
        builder = builder.config(key, value)
    log.info("starting a Spark session (master %s); this takes 15-25 s", master)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM's reasons come in many classes; say the first line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"could not start Spark (master {master}): {first}; check warehouse.master and "
                          "warehouse.spark_conf in martops.yml, and Java 17") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _embedded() -> bool:
    """Whether martops runs inside a Spark application started by spark-submit or a platform job."""
    return any(os.environ.get(v) for v in ("PYSPARK_GATEWAY_PORT", "SPARK_ENV_LOADED", "DATABRICKS_RUNTIME_VERSION"))
