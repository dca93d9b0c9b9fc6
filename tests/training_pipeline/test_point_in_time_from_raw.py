"""Training rows against first principles: features recomputed from the raw rows alone.

Independent of the dbt models and of the join: pandas over raw.flights and raw.weather, with
the documented rules (when an outcome is known, local midnights, TTLs), for sampled rows of a
real training snapshot.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pytest

NEW_YORK = ZoneInfo("America/New_York")
SAMPLE = 150


@pytest.fixture(scope="module")
def tables(scored):
    folder, _ = scored
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        snapshot = connection.sql("select table_name from training.snapshots").fetchall()[0][0]
        return {
            # The snapshot keeps join keys out of its columns: take each flight's plane from the spine.
            "training": connection.sql(
                f"""select sample.*, spine.tailnum
                from (select * from {snapshot} using sample {SAMPLE} rows (reservoir, 7)) as sample
                join features.flight_spine_v1 as spine using (flight_id)"""
            ).df(),
            "flights": connection.sql("select * from raw.flights").df(),
            "weather": connection.sql("select * from raw.weather").df(),
        }


@pytest.fixture(scope="module")
def outcomes(tables) -> pd.DataFrame:
    """Each raw flight with the instant its outcome could first be known (README's rule)."""
    flights = tables["flights"].copy()
    departure = flights["time_hour"] + pd.to_timedelta(flights["minute"], unit="min")
    cancelled = flights["dep_time"].isna()
    minutes = flights["dep_delay"].fillna(0) + flights["air_time"].fillna(360) + 60
    flights["known_at"] = departure.where(cancelled, departure + pd.to_timedelta(minutes, unit="min"))
    flights["disrupted"] = cancelled | flights["arr_delay"].isna() | (flights["arr_delay"] >= 15)
    return flights


def local_midnight_utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(), NEW_YORK)).tz_convert("UTC").tz_localize(None)


def close(actual, expected) -> bool:
    if expected is None or (isinstance(expected, float) and np.isnan(expected)):
        return actual is None or pd.isna(actual)
    return actual is not None and not pd.isna(actual) and abs(float(actual) - float(expected)) < 1e-9


def test_route_history_is_what_was_known_before_the_day(tables, outcomes):
    checked = 0
    for row in tables["training"].itertuples():
        day = pd.Timestamp(row.scheduled_dep_date).date()
        # Known on the 7 local days before the prediction day: [midnight D-7, midnight D).
        start, end = local_midnight_utc(day - dt.timedelta(days=7)), local_midnight_utc(day)
        route = outcomes[(outcomes.origin == row.origin) & (outcomes.dest == row.dest)]
        week = route[(route.known_at >= start) & (route.known_at < end)]
        if len(route[route.known_at < end]) == 0:
            assert pd.isna(row.route_flights_7d), row.flight_id
            continue
        assert row.route_flights_7d == len(week), row.flight_id
        assert close(row.route_disruption_rate_7d, week.disrupted.mean() if len(week) else None), row.flight_id
        checked += 1
    assert checked > SAMPLE // 2


def test_weather_is_the_latest_observation_within_three_hours(tables):
    weather = tables["weather"]
    for row in tables["training"].itertuples():
        known = weather[(weather.origin == row.origin) & (weather.time_hour <= row.prediction_at)]
        latest = known.loc[known.time_hour.idxmax()] if len(known) else None
        fresh = latest is not None and latest.time_hour > row.prediction_at - pd.Timedelta(hours=3)
        assert close(row.temp_f, latest.temp if fresh else None), row.flight_id
        assert close(row.visibility_miles, latest.visib if fresh else None), row.flight_id


def test_aircraft_week_counts_only_outcomes_known_by_the_prediction_time(tables, outcomes):
    checked = 0
    for row in tables["training"].itertuples():
        plane = outcomes[(outcomes.tailnum == row.tailnum) & (outcomes.known_at <= row.prediction_at)]
        if row.tailnum is None or pd.isna(row.tailnum) or plane.empty:
            assert pd.isna(row.plane_flights_7d), row.flight_id
            continue
        last_event = plane.known_at.max()
        if last_event <= row.prediction_at - pd.Timedelta(days=7):
            assert pd.isna(row.plane_flights_7d), row.flight_id
            continue
        week = plane[plane.known_at >= last_event - pd.Timedelta(days=7)]
        assert row.plane_flights_7d == len(week), row.flight_id
        assert row.plane_disrupted_flights_7d == int(week.disrupted.sum()), row.flight_id
        checked += 1
    assert checked > 0
