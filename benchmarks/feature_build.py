"""Feature build figures: the full build (ingest + dbt, full refresh) of every day before the next
replay days, those next days one at a time, and a past day re-delivered; dbt as the asset runs it."""

import datetime as dt
import json
import time
from pathlib import Path

from benchmarks.common import connect


def ingest_days(warehouse: Path, start: dt.date, end: dt.date, reference: bool) -> dict:
    from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, replace_days, replace_whole
    from fti_assets.feature_pipeline.source_files import loadable_file

    # As the ingestion assets load: daily tables by their days, reference tables whole. Finding
    # (or extracting) the source file is timed apart from DuckDB's read, typing and write.
    timings = {"read_source_s": 0.0, "write_s": 0.0}
    with connect(warehouse) as connection:
        for table in RAW_TABLES.values():
            if not table.daily and not reference:
                continue
            started = time.perf_counter()
            source = loadable_file(table.name)
            timings["read_source_s"] += time.perf_counter() - started
            started = time.perf_counter()
            if table.daily:
                replace_days(connection, table, source, start, end)
            else:
                replace_whole(connection, table, source)
            timings["write_s"] += time.perf_counter() - started
    return timings


def dbt_build(warehouse: Path, window: tuple[dt.date, dt.date], *args: str) -> dict:
    """The dbt asset's command for a window, run as the asset runs it: in this process, on the
    manifest parsed once per process (fti_assets/dbt/in_process.py). `dbt_s` includes reading
    the project's parse (or parsing it) when it is the process's first command. Also dbt's own
    execution seconds and its slowest nodes. The project's parse state persists across stages
    and repeats (dbt_project/target), as it does across scheduled days."""
    from fti_assets import manifest, settings
    from fti_assets.dbt import in_process
    from fti_assets.dbt.assets import REPLAY_BUILD_ARGS, replay_window_env

    target = warehouse.parent / "dbt_target"
    command = [*REPLAY_BUILD_ARGS, *args, *in_process.location_args(settings.DBT_PROJECT_DIR, target),
               *in_process.NO_LOGS]
    with settings.environment({"FTI_WAREHOUSE": str(warehouse), **replay_window_env(*window)}):
        started = time.perf_counter()
        outcome = in_process.invoke(command, manifest.parsed().manifest)
        timings = {"dbt_s": time.perf_counter() - started}
    results_file = target / "run_results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {"results": []}
    if outcome.returncode != 0:
        # dbt's terminal log is off, as in the asset: say which nodes failed and why.
        failed = [f"{r['unique_id']}: {r['message']}" for r in results["results"] if r["status"] in ("error", "fail")]
        raise RuntimeError(f"dbt {' '.join(command)} failed ({outcome.returncode}): {outcome.exception or failed}")
    nodes = sorted(results["results"], key=lambda r: r["execution_time"], reverse=True)
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = node["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + node["execution_time"], 2)
    return {
        **timings,
        "dbt_exec_s": results["elapsed_time"],
        "dbt_nodes": len(nodes),
        "dbt_exec_by_type": by_type,
        "dbt_slowest": {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in nodes[:6]},
    }


DBT_FEATURES_ONLY = ("--exclude", "monitoring")
# --quick only: models and seeds without the data/unit tests (they cost dbt ~10 s per command).
DBT_NO_TESTS = ("--exclude-resource-type", "test", "unit_test")


def _dbt_selection(ctx: dict) -> tuple[str, ...]:
    return DBT_FEATURES_ONLY if ctx.get("dbt_tests", True) else (*DBT_FEATURES_ONLY, *DBT_NO_TESTS)


def stage_feature_full(ctx: dict) -> dict:
    warehouse = Path(ctx["warehouse"])
    for leftover in warehouse.parent.glob(warehouse.name + "*"):
        leftover.unlink()
    start, end = (dt.date.fromisoformat(d) for d in ctx["full_window"])
    copy_s = day_partitioned_copies()
    started = time.perf_counter()
    ingest = ingest_days(warehouse, start, end, reference=True)
    ingest_s = time.perf_counter() - started
    dbt = dbt_build(warehouse, (start, end), "--full-refresh", *_dbt_selection(ctx))
    with connect(warehouse) as connection:
        rows = connection.sql("select count(*) from features.flight_spine_v1").fetchall()[0][0]
    return {"seconds": ingest_s + dbt["dbt_s"], "ingest_s": ingest_s, **ingest, **dbt, "spine_rows": rows,
            "source_copy_s": copy_s}


def day_partitioned_copies() -> float:
    """Write the day-partitioned copies of large source files (raw_tables.day_partitioned)
    before the build is timed: the first ingestion of a file writes its copy once, and every
    later build reuses it; timing it inside one repeat's full build would shrink the ratio."""
    from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, day_partitioned
    from fti_assets.feature_pipeline.source_files import loadable_file

    started = time.perf_counter()
    for table in RAW_TABLES.values():
        if table.daily:
            day_partitioned(loadable_file(table.name))
    return time.perf_counter() - started


def stage_feature_day(ctx: dict) -> dict:
    """The next replay days, as the daily schedule delivers them: the first in a fresh process
    (`seconds`: what a scheduled day pays, dbt loaded and the project's parse read first), the
    second in the same process (`warm_seconds`: dbt already loaded). Each rebuilds its own day."""
    warehouse = Path(ctx["warehouse"])
    first, second = (dt.date.fromisoformat(d) for d in ctx["next_days"])
    day = deliver_day(warehouse, first, ctx)
    warm = deliver_day(warehouse, second, ctx)
    return {**day, "warm_seconds": warm["seconds"], "dbt_warm_s": warm["dbt_s"], "warm_dbt_exec_s": warm["dbt_exec_s"]}


def stage_feature_redelivered(ctx: dict) -> dict:
    """A past day delivered again (its data corrected): it rebuilds that day and the rows of the
    days after it that its trailing windows and late outcomes reach (up to 30 days)."""
    return deliver_day(Path(ctx["warehouse"]), dt.date.fromisoformat(ctx["day"]), ctx)


def deliver_day(warehouse: Path, day: dt.date, ctx: dict) -> dict:
    started = time.perf_counter()
    ingest = ingest_days(warehouse, day, day, reference=False)
    ingest_s = time.perf_counter() - started
    dbt = dbt_build(warehouse, (day, day), *_dbt_selection(ctx))
    return {"seconds": ingest_s + dbt["dbt_s"], "ingest_s": ingest_s, **ingest, **dbt}
