"""The code location loads, and its graph runs raw -> staging -> features with checks attached."""

import copy
import subprocess
import sys
import textwrap

import dagster as dg

from fti_assets import manifest, settings
from fti_assets.definitions import build

defs = build()


def test_code_location_loads():
    dg.Definitions.validate_loadable(defs)


def test_importing_the_code_location_starts_no_process():
    """Import is free of side effects: even with a manifest that looks stale, importing the
    definitions module runs no `dbt parse` (nor any other process); building them does.
    Dagster itself is imported first: its vendored croniter runs `file` to learn the platform."""
    child = textwrap.dedent("""
        import sys
        import dagster
        started = []
        def audit(event, args):
            if event in {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.fork"}:
                started.append(f"{event} {args[:2]}")
                raise RuntimeError("no process may start at import")
        sys.addaudithook(audit)
        from fti_assets import manifest
        manifest.newest_source_mtime = lambda project_dir: float("inf")  # every manifest is stale
        import fti_assets.definitions
        print(started)
    """)
    completed = subprocess.run(
        [sys.executable, "-c", child], cwd=settings.REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_feature_groups_sit_downstream_of_ingestion():
    graph = defs.resolve_asset_graph()
    spine = dg.AssetKey(["features", "flight_spine_v1"])
    upstream = graph.get(spine).parent_keys
    assert dg.AssetKey(["intermediate", "int_flights_outcomes_known"]) in upstream
    assert dg.AssetKey(["raw", "flights"]) in graph.get(dg.AssetKey(["staging", "stg_flights"])).parent_keys


def test_dbt_tests_are_asset_checks():
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_stg_flights_flight_id" in checks
    assert "not_null_stg_flights_carrier" in checks


def test_dbt_code_versions_cover_macros():
    """A macro edit must mark its models stale: the code version hashes the macro's SQL."""
    from fti_assets.dbt.code_versions import node_code_version

    edited = copy.deepcopy(manifest.load())
    node = next(n for n in edited["nodes"].values() if n["name"] == "fg_route_history")
    macro_id = "macro.fti.trailing_outcome_windows"
    before = node_code_version(edited, node)
    edited["macros"][macro_id]["macro_sql"] += "\n-- edited"
    assert node_code_version(edited, node) != before


def test_only_models_that_store_days_are_partitioned_by_day():
    """Incremental models hold rows per replay day; views, seeds and tables rebuilt whole do not,
    so a window run records them once instead of once per day."""
    graph = defs.resolve_asset_graph()

    def daily(*key: str) -> bool:
        return graph.get(dg.AssetKey(list(key))).partitions_def is not None

    assert daily("features", "fg_route_history_v1") and daily("intermediate", "int_routes_aggregated_to_day")
    assert daily("raw", "flights")
    assert not daily("staging", "stg_flights")  # a view
    assert not daily("staging", "airports_supplement")  # a seed
    assert not daily("monitoring", "mon_daily_performance")  # a table rebuilt whole
