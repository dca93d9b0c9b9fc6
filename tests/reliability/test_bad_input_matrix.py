"""The bad-input matrix: each kind of broken raw delivery fails the feature job with a message
naming table, column and rows, and leaves features, snapshots, models and predictions as they
were. A day delivered twice is not an error: it leaves the same state. README, "Reliability",
lists these cases; keep the two in step.
"""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from fti_assets.runner import failure_messages, run_window
from tests.conftest import LAST, write_source_subset

BAD_DAY = LAST + dt.timedelta(days=1)


def _first(frame: pd.DataFrame) -> int:
    return frame.index[0]


# Each corruption edits the delivered day's frames in place and returns the evidence the
# message must show (a value of the failing rows).
def null_key(flights, weather):
    flights.loc[_first(flights), "carrier"] = None
    return flights.loc[_first(flights), "tailnum"]


def duplicate_flight(flights, weather):
    row = flights.loc[[_first(flights)]]
    flights.loc[len(flights) + 10_000] = row.iloc[0]
    return f"{row.carrier.iloc[0]}-{row.flight.iloc[0]}-{row.origin.iloc[0]}-{BAD_DAY}"


def negative_distance(flights, weather):
    flights.loc[_first(flights), "distance"] = "-250"
    return "-250"


def absurd_delay(flights, weather):
    flights.loc[_first(flights), "dep_delay"] = "99999"
    return "99999"


def unknown_airport(flights, weather):
    flights.loc[_first(flights), "dest"] = "ZZZ"
    return "ZZZ"


def unknown_carrier(flights, weather):
    flights.loc[_first(flights), "carrier"] = "QQ"
    return "QQ"


def timestamp_outside_the_day(flights, weather):
    flights.loc[_first(flights), "time_hour"] = "2013-01-09T12:00:00Z"
    return "2013-01-09"


def weather_from_the_future(flights, weather):
    weather.loc[_first(weather), "time_hour"] = "2013-02-01T12:00:00Z"
    return "2013-02-01"


def renamed_column(flights, weather):
    flights.rename(columns={"dep_delay": "departure_delay"}, inplace=True)
    return "departure_delay"


def retyped_column(flights, weather):
    flights.loc[_first(flights), "distance"] = "far"
    return "far"


def empty_day(flights, weather):
    flights.drop(flights.index, inplace=True)
    return str(BAD_DAY)


def missing_day(flights, weather):
    """The window is two days; the second was never delivered."""
    return str(BAD_DAY + dt.timedelta(days=1))


# case: (corruption, source table corrupted, what the message names, last day of the window)
CASES = {
    "null key": (null_key, "flights", ["stg_flights", "column carrier", "not_null"], BAD_DAY),
    "duplicate flight": (duplicate_flight, "flights", ["stg_flights", "column flight_id", "unique"], BAD_DAY),
    "negative distance": (negative_distance, "flights", ["stg_flights", "column distance_miles", "accepted_range"], BAD_DAY),
    "absurd delay": (absurd_delay, "flights", ["stg_flights", "column dep_delay_minutes", "accepted_range"], BAD_DAY),
    "unknown airport": (unknown_airport, "flights", ["stg_flights", "column dest", "relationships"], BAD_DAY),
    "unknown carrier": (unknown_carrier, "flights", ["stg_flights", "column carrier", "relationships"], BAD_DAY),
    "timestamp outside the day": (timestamp_outside_the_day, "flights", ["stg_flights", "column scheduled_dep_at"], BAD_DAY),
    "weather from the future": (weather_from_the_future, "weather", ["stg_weather", "column observed_at"], BAD_DAY),
    "renamed column": (renamed_column, "flights", ["raw.flights", "schema changed", "dep_delay"], BAD_DAY),
    "retyped column": (retyped_column, "flights", ["raw.flights.distance", "not DOUBLE"], BAD_DAY),
    "empty day": (empty_day, "flights", ["raw.flights", "no rows delivered"], BAD_DAY),
    "missing day": (missing_day, "flights", ["raw.flights", "no rows delivered"], BAD_DAY + dt.timedelta(days=1)),
    "day delivered twice": (None, None, [], LAST),
}
# Feature groups built from the other, valid source table of the day may still advance: dbt
# skips only what is downstream of the failed test.
WEATHER_FEATURES = {"fg_origin_weather_v1"}


def pipeline_state(warehouse: Path, store: Path, corrupted: str | None) -> dict:
    """Every row of features, snapshots, registry and predictions, and every model file."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = [t for (s, t) in connection.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('features', 'training', 'registry', 'inference') order by all"
        ).fetchall() for t in [f"{s}.{t}"]]
        if corrupted == "flights":
            tables = [t for t in tables if t.removeprefix("features.") not in WEATHER_FEATURES]
        elif corrupted == "weather":
            tables = [t for t in tables if not t.startswith("features.") or t.removeprefix("features.") in WEATHER_FEATURES]
        rows = {t: connection.sql(f"select * from {t} order by all").fetchall() for t in tables}
    return {"tables": rows, "models": {p.name: p.read_bytes() for p in sorted(store.glob("*.skops"))}}


@pytest.mark.parametrize("case", CASES)
def test_bad_raw_data(case, scored, tmp_path, monkeypatch):
    corrupt, source_table, named, last_day = CASES[case]
    folder, env = scored
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    first_day = LAST if corrupt is None else BAD_DAY
    source = write_source_subset(tmp_path / "source", first_day, first_day)
    evidence = None
    if corrupt is not None:
        read = lambda name: pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False, na_values=["", "NA"])  # noqa: E731
        flights, weather = read("flights"), read("weather")
        evidence = corrupt(flights, weather)
        flights.to_csv(source / "flights.csv", index=False)
        weather.to_csv(source / "weather.csv", index=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace(str(folder), str(copy)))
    monkeypatch.setenv("FTI_SOURCE_DIR", str(source))
    before = pipeline_state(copy / "warehouse.duckdb", copy / "store", source_table)

    result = run_window("feature_job", str(first_day), str(last_day), dg.DagsterInstance.ephemeral())

    after = pipeline_state(copy / "warehouse.duckdb", copy / "store", source_table)
    if corrupt is None:
        assert result.success, failure_messages(result)
    else:
        assert not result.success
        message = "\n".join(failure_messages(result))
        for part in [*named, str(evidence)]:
            assert part in message, f"{part!r} not in:\n{message}"
    assert after == before
