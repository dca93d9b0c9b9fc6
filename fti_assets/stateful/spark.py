"""The Spark catalog behind the dbt profile's `spark` target: the same raw, staging and
feature tables as the DuckDB warehouse, built by the same dbt project (docs/spark.md).

The session is configured by the profile alone (its `server_side_parameters`), so a
SparkSession started here and the one dbt-spark starts are the same session: dbt run in
this process (`dbt_build`) reuses it, and the JVM starts once. pyspark comes with the
`spark` extra; nothing here is imported unless Spark is used.
"""

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from fti_assets import settings
from fti_assets.stateful.warehouse import connect

TARGET = "spark"


def spark_conf(spark_dir: Path | None = None) -> dict[str, str]:
    """The profile's Spark settings, rendered as dbt renders them, with FTI_SPARK_DIR absolute
    so that they mean the same from any working directory."""
    profile = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text())
    parameters = profile["fti"]["outputs"][TARGET]["server_side_parameters"]
    folder = str((spark_dir or settings.spark_dir()).resolve())

    def env_var(name: str, default: str | None = None) -> str:
        value = folder if name == "FTI_SPARK_DIR" else os.environ.get(name, default)
        if value is None:
            raise KeyError(f"profiles.yml reads the environment variable {name}, which is not set")
        return value

    return {key: jinja2.Template(str(value)).render(env_var=env_var) for key, value in parameters.items()}


def session(spark_dir: Path | None = None):
    """The SparkSession of the `spark` target (started on first use, then shared)."""
    from pyspark.sql import SparkSession

    folder = spark_dir or settings.spark_dir()
    folder.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(folder).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def load_raw(spark, warehouse: Path, spark_dir: Path | None = None) -> dict[str, int]:
    """Copy every table of the warehouse's `raw` schema into the Spark catalog, through Parquet.

    DuckDB's ingestion has already applied the ingestion rules (shape checks, whole days),
    so Spark reads exactly the rows the DuckDB path reads. Returns the rows per table."""
    folder = (spark_dir or settings.spark_dir()) / "raw_export"
    folder.mkdir(parents=True, exist_ok=True)
    with connect(warehouse, read_only=True) as connection:
        tables = [t for (t,) in connection.sql(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
        ).fetchall()]
        if not tables:
            raise LookupError(f"no raw tables in {warehouse}: run the feature_job (or `fti main`) first")
        for table in tables:
            connection.sql(f"copy raw.{table} to '{folder / table}.parquet' (format parquet)")
    spark.sql("create schema if not exists raw")
    counts = {}
    for table in tables:
        spark.sql(f"drop table if exists raw.{table}")
        spark.sql(f"create table raw.{table} using parquet as select * from parquet.`{folder / table}.parquet`")
        counts[f"raw.{table}"] = spark.table(f"raw.{table}").count()
    shutil.rmtree(folder)
    return counts


def dbt_build(args: list[str], spark_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Any:
    """`dbt <args> --target spark` in this process, on this process's SparkSession. Its
    artifacts go to <spark dir>/dbt_target: the project's own target/ holds the DuckDB manifest
    that Dagster loads. Raises with dbt's error when a node fails."""
    from dbt.cli.main import dbtRunner

    folder = (spark_dir or settings.spark_dir()).resolve()
    target = folder / "dbt_target"
    # FTI_SPARK_DIR absolute: the profile's paths then mean the same from any directory.
    with settings.environment({"FTI_SPARK_DIR": str(folder), **(env or {})}):
        result = dbtRunner().invoke([
            *args, "--target", TARGET, "--profiles-dir", str(settings.DBT_PROJECT_DIR),
            "--project-dir", str(settings.DBT_PROJECT_DIR), "--target-path", str(target),
            "--log-path", str(target),
        ])
    if not result.success:
        failed = [r for r in getattr(result.result, "results", []) or [] if str(r.status) in {"error", "fail"}]
        details = "\n".join(f"{r.node.unique_id}: {r.message}" for r in failed) or str(result.exception)
        raise RuntimeError(f"dbt {' '.join(args)} --target spark failed:\n{details}")
    return result
