"""The feature job end to end on a few replay days, in a private warehouse."""

import datetime as dt
import os
import shutil
import subprocess

import dagster as dg
import duckdb
import pytest

from fti_assets import settings
from fti_assets.definitions import build
from fti_assets.manifest import dbt_executable
from fti_assets.runner import failure_messages, run_window
from fti_assets.stateful import event_log
from tests.conftest import FIRST, LAST

FEATURE_TABLES = {
    "fg_route_history_v1": ["origin", "dest", "as_of_date"],
    "fg_route_history_v2": ["origin", "dest", "as_of_date"],
    "fg_carrier_origin_history_v1": ["carrier", "origin", "as_of_date"],
    "fg_origin_weather_v1": ["origin", "event_at"],
    "fg_aircraft_v1": ["tailnum", "event_at"],
    "flight_spine_v1": ["flight_id"],
    "fg_plane_today_v1": ["tailnum", "scheduled_dep_date", "event_at"],
    "fg_plane_today_v2": ["tailnum", "scheduled_dep_date", "event_at"],
    "fg_carrier_origin_today_v1": ["carrier", "origin", "scheduled_dep_date", "event_at"],
    "fg_origin_departures_recent_v1": ["origin", "event_at"],
    "fg_origin_weather_latest_v1": ["origin", "event_at"],
}
# Incremental too: their stored rows must also equal a full refresh's.
UNDERLYING_TABLES = [
    "intermediate.int_flights_outcomes_known",
    "intermediate.int_routes_aggregated_to_day",
    "intermediate.int_carrier_origins_aggregated_to_day",
    "staging.stg_events",
]


def rows(path, sql: str):
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def dbt(warehouse, *args: str) -> subprocess.CompletedProcess:
    """dbt as a user runs it from dbt_project/, on `warehouse`."""
    return subprocess.run(
        [str(dbt_executable()), *args, "--profiles-dir", "."],
        cwd=settings.DBT_PROJECT_DIR,
        env={**os.environ, "FTI_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
    )


def feature_rows(path) -> dict[str, list]:
    """Every row of the incremental tables, feature groups and the intermediate steps under them."""
    tables = [f"features.{t}" for t in FEATURE_TABLES] + UNDERLYING_TABLES
    return {t: rows(path, f"select * from {t} order by all") for t in tables}


def test_every_scheduled_flight_is_on_the_spine_once(built):
    root, _ = built
    warehouse = root / "warehouse.duckdb"
    assert rows(warehouse, "select count(*) from features.flight_spine_v1") == rows(
        warehouse, "select count(*) from raw.flights"
    )
    assert rows(warehouse, "select min(scheduled_dep_date), max(scheduled_dep_date) from features.flight_spine_v1") == [(FIRST, LAST)]


@pytest.mark.parametrize("table", FEATURE_TABLES)
def test_feature_group_grain_holds(built, table):
    root, _ = built
    keys = ", ".join(FEATURE_TABLES[table])
    duplicates = rows(
        root / "warehouse.duckdb",
        f"select {keys}, count(*) from features.{table} group by all having count(*) > 1",
    )
    assert rows(root / "warehouse.duckdb", f"select count(*) from features.{table}")[0][0] > 0
    assert duplicates == []


def test_incremental_days_equal_a_full_refresh(built, tmp_path):
    root, _ = built
    copy = tmp_path / "full_refresh.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    result = dbt(copy, "build", "--full-refresh", "--exclude", "monitoring", "--quiet")
    assert result.returncode == 0, result.stdout[-3000:]
    assert feature_rows(copy) == feature_rows(root / "warehouse.duckdb")


def test_rerunning_a_day_leaves_identical_rows(built, tmp_path, monkeypatch):
    root, env = built
    copy = tmp_path / "rerun.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    monkeypatch.setenv("FTI_SOURCE_DIR", env["FTI_SOURCE_DIR"])
    monkeypatch.setenv("FTI_WAREHOUSE", str(copy))
    before = feature_rows(copy), rows(copy, "select * exclude (loaded_at) from raw.flights order by all")

    result = run_window("feature_job", "2013-01-03", "2013-01-03", dg.DagsterInstance.ephemeral())

    assert result.success, failure_messages(result)
    assert (feature_rows(copy), rows(copy, "select * exclude (loaded_at) from raw.flights order by all")) == before


def replay_day_5_after(built, copy, monkeypatch, planting: str):
    """A copy of the built warehouse where `planting` changed stored rows, then day 5 replayed
    through Dagster: what the replay rewrote, and what it left as stored."""
    root, env = built
    shutil.copy(root / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as connection:
        connection.sql(planting)
    monkeypatch.setenv("FTI_SOURCE_DIR", env["FTI_SOURCE_DIR"])
    monkeypatch.setenv("FTI_WAREHOUSE", str(copy))
    result = run_window("feature_job", "2013-01-05", "2013-01-05", dg.DagsterInstance.ephemeral())
    assert result.success, failure_messages(result)
    return copy


def test_a_replay_day_reads_only_its_own_flights_outcomes(built, tmp_path, monkeypatch):
    """The flights' outcomes are stored per delivered day: replaying day 5 rewrites day 5's
    rows and leaves day 1's as stored (a view over every raw row would recompute all of them)."""
    planted = "select distinct arr_delay_minutes from intermediate.int_flights_outcomes_known where partition_date = '{}'"
    copy = replay_day_5_after(
        built, tmp_path / "outcomes.duckdb", monkeypatch,
        "update intermediate.int_flights_outcomes_known set arr_delay_minutes = -999 where partition_date in ('2013-01-01', '2013-01-05')",
    )
    assert rows(copy, planted.format("2013-01-01")) == [(-999,)]
    assert (-999,) not in rows(copy, planted.format("2013-01-05"))


def test_replay_days_run_dbt_in_process_on_one_parse(built, tmp_path, monkeypatch):
    """Two replay days in one process: dbt runs in it (no `dbt` subprocess) and the project is
    parsed once, not once per day (fti_assets/dbt/in_process.py)."""
    from fti_assets.dbt import in_process

    root, env = built
    copy = tmp_path / "warm.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    monkeypatch.setenv("FTI_SOURCE_DIR", env["FTI_SOURCE_DIR"])
    monkeypatch.setenv("FTI_WAREHOUSE", str(copy))
    parses, started = [], []
    parse = in_process.parse
    monkeypatch.setattr(in_process, "parse", lambda *args: parses.append(args) or parse(*args))
    popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda args, *rest, **kw: started.append(args) or popen(args, *rest, **kw))
    instance = dg.DagsterInstance.ephemeral()

    runs = [run_window("feature_job", day, day, instance) for day in ("2013-01-04", "2013-01-05")]

    assert all(run.success for run in runs), [failure_messages(run) for run in runs]
    assert len(parses) == 1
    assert [args for args in started if "dbt" in str(args)] == []
    assert {event.partition for event in runs[1].get_asset_materialization_events()} >= {"2013-01-05"}


def test_nothing_from_a_day_reaches_a_prediction_made_at_its_start(built):
    """A daily-window row joinable at the start of day D describes only days before D."""
    root, _ = built
    leaks = rows(
        root / "warehouse.duckdb",
        """
        with p as (select distinct scheduled_dep_date, prediction_at from features.flight_spine_v1)
        select 'route', count(*) from features.fg_route_history_v1 r join p
            on r.event_at <= p.prediction_at and r.as_of_date >= p.scheduled_dep_date
        union all
        select 'carrier_origin', count(*) from features.fg_carrier_origin_history_v1 c join p
            on c.event_at <= p.prediction_at and c.as_of_date >= p.scheduled_dep_date
        """,
    )
    assert dict(leaks) == {"route": 0, "carrier_origin": 0}


def test_a_replay_window_validates_its_days_without_rescanning_the_history(built, tmp_path):
    """Data tests of a window read the rows it (re)built (meta.replay_date): a bad value on an
    earlier, already validated day is not re-read, and a full `dbt test` still finds it."""
    root, _ = built
    copy = tmp_path / "history.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as connection:
        connection.sql("update features.fg_route_history_v1 set route_disruption_rate_7d = 2 where as_of_date = '2013-01-01'")

    window = dbt(copy, "test", "--select", "fg_route_history", "--vars", '{start_date: "2013-01-05", end_date: "2013-01-05"}')
    everything = dbt(copy, "test", "--select", "fg_route_history")

    assert window.returncode == 0, window.stdout[-3000:]
    assert everything.returncode == 1
    assert "accepted_range_fg_route_history_v1_route_disruption_rate_7d" in everything.stdout


def test_a_dagster_replay_passes_its_window_to_dbt(built, tmp_path, monkeypatch):
    """The partition window reaches dbt (as FTI_START_DATE / FTI_END_DATE): replaying day 5
    rebuilds from day 5 only, so a value planted on day 1 survives it, and day 5's data tests
    do not re-read day 1. Without the window dbt would rebuild (and repair) day 1 too."""
    planted = "select route_disruption_rate_7d from features.fg_route_history_v1 where as_of_date = '2013-01-01'"
    copy = replay_day_5_after(
        built, tmp_path / "window.duckdb", monkeypatch,
        "update features.fg_route_history_v1 set route_disruption_rate_7d = 2 where as_of_date = '2013-01-01'",
    )
    assert {value for (value,) in rows(copy, planted)} == {2}
    assert "FTI_START_DATE" not in os.environ, "the window leaked out of the dbt step"


def test_a_range_run_plans_each_asset_once_and_still_records_every_day(replayed):
    """A window of days plans each asset once for the whole range (runner.PLANNED_EVENTS_PER_RANGE),
    yet records every asset's every day as materialized; a single-day run plans per day, so its
    day is marked failed in the UI if it fails."""
    _, _, instance, (window, day) = replayed

    def planned(run):
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
        return [record.event_log_entry.dagster_event.event_specific_data for record in records]

    graph = build().resolve_asset_graph()
    in_window = planned(window)
    daily = [event for event in in_window if graph.get(event.asset_key).partitions_def is not None]
    assert len({event.asset_key for event in in_window}) == len(in_window)
    job_assets = build().resolve_job_def("feature_job").asset_layer.executable_asset_keys
    assert {event.asset_key for event in daily} == {key for key in job_assets if graph.get(key).partitions_def}
    for event in daily:
        days = set(event.partitions_subset.get_partition_keys())
        assert days == {f"2013-01-0{d}" for d in range(1, 5)}
        assert days <= set(instance.get_materialized_partitions(event.asset_key)), event.asset_key
    assert {event.partition for event in planned(day) if event.partition} == {"2013-01-05"}
    assert all(event.partitions_subset is None for event in planned(day))


def test_a_view_alone_is_built_and_tested_without_a_window(built, tmp_path, monkeypatch):
    """Views hold no days: materializing one by itself (as from the UI) runs no partition, and
    its data tests then read every day, so a bad day-1 row fails them (a window of day 5 would
    not re-read it)."""
    root, _ = built
    copy = tmp_path / "view.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    with duckdb.connect(str(copy)) as connection:
        connection.sql("update raw.flights set flight = null where rowid = (select min(rowid) from raw.flights where partition_date = '2013-01-01')")
    monkeypatch.setenv("FTI_WAREHOUSE", str(copy))
    view = dg.AssetKey(["staging", "stg_flights"])

    result = build().resolve_job_def("feature_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=[view], raise_on_error=False
    )

    assert not result.success
    assert 'not_null failed on "view"."staging"."stg_flights", column flight_number: 1 failing row' in "\n".join(failure_messages(result))
    assert [event.partition for event in result.get_asset_materialization_events()] == [None]


def test_streamed_days_ahead_of_the_deliveries_are_built_and_a_delivered_event_wins(built, tmp_path, monkeypatch):
    """Events streamed for a day no delivery has reached (day 7) build its intraday rows whatever
    the replay window; a streamed event with the id of a delivered one (day 2, outside the window)
    changes nothing. The stored rows still equal a full refresh's."""
    root, env = built
    copy = tmp_path / "streamed.duckdb"
    shutil.copy(root / "warehouse.duckdb", copy)
    delivered_id = rows(copy, "select min(event_id) from staging.stg_events where partition_date = '2013-01-02' and event_type = 'departed'")[0][0]
    ahead = [
        {"event_id": f"ahead-{leg}", "event_type": "departed", "event_at": dt.datetime(2013, 1, 7, 14 + leg, 5),
         "scheduled_dep_at": dt.datetime(2013, 1, 7, 14 + leg), "carrier": "UA", "flight_number": 9100 + leg,
         "origin": "EWR", "dest": "BOS", "tailnum": "NAHEAD", "dep_delay_minutes": 5}
        for leg in range(3)
    ]
    twin = {**ahead[0], "event_id": delivered_id, "scheduled_dep_at": dt.datetime(2013, 1, 2, 14), "event_at": dt.datetime(2013, 1, 2, 15),
            "dep_delay_minutes": 60}
    event_log.push(tmp_path / "event_log.sqlite", [*ahead, twin])
    monkeypatch.setenv("FTI_SOURCE_DIR", env["FTI_SOURCE_DIR"])
    monkeypatch.setenv("FTI_WAREHOUSE", str(copy))

    result = run_window("feature_job", "2013-01-05", "2013-01-05", dg.DagsterInstance.ephemeral())

    assert result.success, failure_messages(result)
    assert rows(copy, "select count(*) from staging.stg_events where is_streamed and partition_date = '2013-01-07'") == [(3,)]
    assert rows(copy, "select max(plane_legs_departed_today) from features.fg_plane_today_v1 where tailnum = 'NAHEAD'") == [(3,)]
    assert rows(copy, f"select is_streamed, dep_delay_minutes = 60 from staging.stg_events where event_id = '{delivered_id}'") == [(False, False)]
    refreshed = tmp_path / "full_refresh.duckdb"
    shutil.copy(copy, refreshed)
    assert dbt(refreshed, "build", "--full-refresh", "--exclude", "monitoring", "--quiet").returncode == 0
    assert feature_rows(refreshed) == feature_rows(copy)
