"""Feature build cost: all of 2013 from scratch vs one incremental replay day.

Runs on a private warehouse (never the project's own). Ingestion is the same Python code the
assets call; dbt runs as a user would run it. Prints seconds per stage and the ratio.

    python benchmarks/feature_build.py [--day 2013-12-15] [--repeat 3]
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from fti_assets import settings
from fti_assets.dbt.project import dbt_executable
from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, replace_days, replace_whole, rows_for_days
from fti_assets.feature_pipeline.source_files import read_source
from fti_assets.stateful.warehouse import connect


def ingest(warehouse: Path, start: dt.date, end: dt.date, reference: bool) -> None:
    with connect(warehouse) as connection:
        for table in RAW_TABLES.values():
            if table.daily:
                replace_days(connection, table, rows_for_days(read_source(table.name), start, end), start, end)
            elif reference:
                replace_whole(connection, table, read_source(table.name))


def dbt(warehouse: Path, *args: str) -> float:
    """Run dbt; return its own execution time (run_results), i.e. without start-up and parse."""
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(
            [str(dbt_executable()), *args, "--profiles-dir", ".", "--quiet", "--target-path", target],
            cwd=settings.DBT_PROJECT_DIR,
            env={**os.environ, "FTI_WAREHOUSE": str(warehouse)},
            check=True,
        )
        return json.loads((Path(target) / "run_results.json").read_text())["elapsed_time"]


# The feature pipeline only: monitoring models read predictions, which come later.
FEATURES_ONLY = ("--exclude", "monitoring")
# Models and seeds, without the data tests (those scan whole tables and are reported apart).
NO_TESTS = (*FEATURES_ONLY, "--exclude-resource-type", "test", "unit_test")


def timed(action) -> tuple[float, float | None]:
    started = time.perf_counter()
    inner = action()
    return time.perf_counter() - started, inner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", default="2013-12-15", type=dt.date.fromisoformat)
    parser.add_argument("--repeat", default=3, type=int)
    args = parser.parse_args()
    year = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))
    day_vars = json.dumps({"start_date": str(args.day), "end_date": str(args.day)})
    figures: dict[str, list[float]] = {}
    executions: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "warehouse.duckdb"
        for _ in range(args.repeat):
            warehouse.unlink(missing_ok=True)
            read_source("flights")  # parse the source once, outside the timings
            stages = {
                "full: ingest 2013": lambda: ingest(warehouse, *year, reference=True),
                "full: dbt models --full-refresh": lambda: dbt(warehouse, "build", "--full-refresh", *NO_TESTS),
                "full: dbt build --full-refresh": lambda: dbt(warehouse, "build", "--full-refresh", *FEATURES_ONLY),
                "day: ingest one day": lambda: ingest(warehouse, args.day, args.day, reference=False),
                "day: dbt models (incremental)": lambda: dbt(warehouse, "build", "--vars", day_vars, *NO_TESTS),
                "day: dbt build (incremental)": lambda: dbt(warehouse, "build", "--vars", day_vars, *FEATURES_ONLY),
            }
            for name, action in stages.items():
                wall, inner = timed(action)
                figures.setdefault(name, []).append(wall)
                if inner is not None:
                    executions.setdefault(name, []).append(inner)

    median = {name: statistics.median(values) for name, values in figures.items()}
    full = median["full: ingest 2013"] + median["full: dbt models --full-refresh"]
    day = median["day: ingest one day"] + median["day: dbt models (incremental)"]
    print(f"{'stage':<34} {'median s':>9} {'min s':>7} {'max s':>7} {'dbt exec s':>11}   (n={args.repeat})")
    for name, values in figures.items():
        inner = f"{statistics.median(executions[name]):>11.2f}" if name in executions else f"{'':>11}"
        print(f"{name:<34} {median[name]:>9.2f} {min(values):>7.2f} {max(values):>7.2f} {inner}")
    print("(wall time includes dbt's start-up and parse, about 8 s per command here; 'dbt exec' excludes it)")
    print(f"\nfull 2013 feature build (ingest + dbt models): {full:.2f} s")
    print(f"one incremental day (ingest + dbt models):     {day:.2f} s")
    print(f"ratio day / full:                           {day / full:.1%}")


if __name__ == "__main__":
    main()
