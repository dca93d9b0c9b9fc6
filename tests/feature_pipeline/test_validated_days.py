"""Only validated days reach the features: a failed day stops the replay until it is
re-delivered (and the result equals a replay that never saw its bad rows) or skipped."""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd

from fti_assets.cli import main as fti
from fti_assets.runner import failure_messages, run_window
from tests.conftest import FIRST, LAST, write_source_subset
from tests.feature_pipeline.test_feature_job import feature_rows, rows

BAD_DAY = dt.date(2013, 1, 3)


def with_duplicated_flights(folder, day: dt.date, copies: int = 40):
    """The clean source, but `day` delivered with `copies` of its flights twice (the issue's bad day)."""
    path = folder / "flights.csv"
    flights = pd.read_csv(path)
    on_day = flights[(flights.year == day.year) & (flights.month == day.month) & (flights.day == day.day)]
    pd.concat([flights, on_day.head(copies)]).to_csv(path, index=False)
    return folder


def test_a_bad_day_stops_the_replay_and_redelivery_equals_a_clean_replay(built, isolated_env, monkeypatch):
    clean_root, _ = built
    clean = write_source_subset(isolated_env / "clean", FIRST, LAST)
    bad = with_duplicated_flights(write_source_subset(isolated_env / "bad", FIRST, LAST), BAD_DAY)
    warehouse = isolated_env / "warehouse" / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setenv("FTI_SOURCE_DIR", str(bad))

    assert run_window("feature_job", str(FIRST), "2013-01-02", instance).success
    failed = run_window("feature_job", str(BAD_DAY), str(BAD_DAY), instance)
    refused = run_window("feature_job", "2013-01-04", "2013-01-04", instance)

    assert not failed.success and "unique" in "\n".join(failure_messages(failed))
    assert not refused.success
    message = "\n".join(failure_messages(refused))
    assert f"replay day {BAD_DAY} failed its checks (unique_stg_flights_flight_id)" in message, message
    assert rows(warehouse, "select max(scheduled_dep_date) from features.flight_spine_v1") == [(dt.date(2013, 1, 2),)]
    assert rows(warehouse, "select count(*) from raw.flights where partition_date > '2013-01-03'") == [(0,)]
    kept = rows(warehouse, "select day, test, count(*) from validation.failing_rows group by all")
    assert kept == [(BAD_DAY, "unique_stg_flights_flight_id", 40)]

    monkeypatch.setenv("FTI_SOURCE_DIR", str(clean))  # the day, re-delivered fixed
    redelivered = run_window("feature_job", str(BAD_DAY), str(BAD_DAY), instance)
    resumed = run_window("feature_job", "2013-01-04", str(LAST), instance)

    assert redelivered.success and resumed.success, failure_messages(redelivered) + failure_messages(resumed)
    assert feature_rows(warehouse) == feature_rows(clean_root / "warehouse.duckdb")
    assert rows(warehouse, "select count(*) from validation.failing_rows") == [(0,)]
    assert rows(warehouse, "select distinct status from validation.replay_days") == [("passed",)]


def test_a_skipped_day_is_never_read_and_its_failing_rows_are_kept(isolated_env, monkeypatch):
    first = dt.date(2013, 1, 1)
    source = with_duplicated_flights(write_source_subset(isolated_env / "bad", first, first + dt.timedelta(days=1)), first)
    warehouse = isolated_env / "warehouse" / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setenv("FTI_SOURCE_DIR", str(source))
    assert not run_window("feature_job", str(first), str(first), instance).success

    fti(["skip-day", str(first), "--reason", "duplicated delivery, no fixed file"])
    after = run_window("feature_job", "2013-01-02", "2013-01-02", instance)

    assert after.success, failure_messages(after)
    assert rows(warehouse, "select distinct scheduled_dep_date from features.flight_spine_v1") == [(dt.date(2013, 1, 2),)]
    assert rows(warehouse, "select count(*) from staging.stg_flights where partition_date = '2013-01-01'") == [(0,)]
    # The next run's passing test dropped its stored failures; the skipped day's evidence is still kept.
    assert rows(warehouse, "select count(*) from duckdb_tables() where table_name = 'unique_stg_flights_flight_id'") == [(0,)]
    assert rows(warehouse, "select day, count(*) from validation.failing_rows group by all") == [(first, 40)]
    assert rows(warehouse, "select status, reason from validation.replay_days where day = '2013-01-01'") == [
        ("skipped", "duplicated delivery, no fixed file")
    ]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.sql("select count(*) from raw.flights where partition_date = '2013-01-01'").fetchall()[0][0] > 0
