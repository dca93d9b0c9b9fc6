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


# Each corruption edits the delivered day's frames in place (row `at` of its table) and returns
# the evidence the message must show (a value of the failing rows).
def null_key(flights, weather, at):
    flights.loc[at, "carrier"] = None
    return flights.loc[at, "tailnum"]


def duplicate_flight(flights, weather, at):
    row = flights.loc[at]
    flights.loc[len(flights) + 10_000] = row
    return f"{row.carrier}-{row.flight}-{row.origin}-{BAD_DAY}"


def negative_distance(flights, weather, at):
    flights.loc[at, "distance"] = "-250"
    return "-250"


def absurd_delay(flights, weather, at):
    flights.loc[at, "dep_delay"] = "99999"
    return "99999"


def unknown_airport(flights, weather, at):
    flights.loc[at, "dest"] = "ZZZ"
    return "ZZZ"


def unknown_carrier(flights, weather, at):
    flights.loc[at, "carrier"] = "QQ"
    return "QQ"


def timestamp_outside_the_day(flights, weather, at):
    flights.loc[at, "time_hour"] = "2013-01-09T12:00:00Z"
    return "2013-01-09"


def weather_from_the_future(flights, weather, at):
    weather.loc[at, "time_hour"] = "2013-02-01T12:00:00Z"
    return "2013-02-01"


def renamed_column(flights, weather, at):
    flights.rename(columns={"dep_delay": "departure_delay"}, inplace=True)
    return "departure_delay"


def retyped_column(flights, weather, at):
    flights.loc[at, "distance"] = "far"
    return "far"


def empty_day(flights, weather, at):
    flights.drop(flights.index, inplace=True)
    return str(BAD_DAY)


def missing_day(flights, weather, at):
    """The window is two days; the second was never delivered."""
    return str(BAD_DAY + dt.timedelta(days=1))


# Problems the dbt data tests catch. All eight go into one delivered day, each on its own row,
# and one feature job must name every one (the failing test, table, column and its rows):
# a failed error-severity test alone stops the build, so naming it is the proof.
# case: (corruption, what the message line names)
DATA_CASES = {
    "null key": (null_key, ["not_null failed on", "stg_flights", "column carrier"]),
    "duplicate flight": (duplicate_flight, ["unique failed on", "stg_flights", "column flight_id"]),
    "negative distance": (negative_distance, ["accepted_range failed on", "stg_flights", "column distance_miles"]),
    "absurd delay": (absurd_delay, ["accepted_range failed on", "stg_flights", "column dep_delay_minutes"]),
    "unknown airport": (unknown_airport, ["relationships failed on", "stg_flights", "column dest"]),
    "unknown carrier": (unknown_carrier, ["relationships failed on", "stg_flights", "column carrier"]),
    "timestamp outside the day": (timestamp_outside_the_day, ["failed on", "stg_flights", "column scheduled_dep_at"]),
    "weather from the future": (weather_from_the_future, ["failed on", "stg_weather", "column observed_at"]),
}
# Problems the ingestion's shape checks catch before anything is written, one run each.
# case: (corruption, source table corrupted, what the message names, last day of the window)
SHAPE_CASES = {
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


def _deliver(corruptions, scored, tmp_path, monkeypatch, first_day):
    """A private copy of the scored pipeline and a source folder holding `first_day`, corrupted
    by each (corruption, row) given; the evidence each returns."""
    folder, env = scored
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    source = write_source_subset(tmp_path / "source", first_day, first_day)
    read = lambda name: pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False, na_values=["", "NA"])  # noqa: E731
    flights, weather = read("flights"), read("weather")
    evidence = [corrupt(flights, weather, at) for corrupt, at in corruptions]
    flights.to_csv(source / "flights.csv", index=False)
    weather.to_csv(source / "weather.csv", index=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace(str(folder), str(copy)))
    monkeypatch.setenv("FTI_SOURCE_DIR", str(source))
    return copy, evidence


def test_every_data_problem_of_a_day_is_named_and_nothing_changes(scored, tmp_path, monkeypatch):
    corruptions = [(corrupt, at) for at, (corrupt, _) in enumerate(DATA_CASES.values())]
    copy, evidence = _deliver(corruptions, scored, tmp_path, monkeypatch, BAD_DAY)
    before = pipeline_state(copy / "warehouse.duckdb", copy / "store", None)

    result = run_window("feature_job", str(BAD_DAY), str(BAD_DAY), dg.DagsterInstance.ephemeral())

    assert not result.success
    message = "\n".join(failure_messages(result))
    lines = message.splitlines()
    for (case, (_, named)), shown in zip(DATA_CASES.items(), evidence, strict=True):
        assert any(all(part in line for part in named) for line in lines), f"{case}: no line with {named} in:\n{message}"
        assert str(shown) in message, f"{case}: {shown!r} not in:\n{message}"
    assert pipeline_state(copy / "warehouse.duckdb", copy / "store", None) == before


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_a_badly_shaped_day_is_refused_before_anything_is_written(case, scored, tmp_path, monkeypatch):
    corrupt, source_table, named, last_day = SHAPE_CASES[case]
    first_day = LAST if corrupt is None else BAD_DAY
    copy, evidence = _deliver([(corrupt, 0)] if corrupt else [], scored, tmp_path, monkeypatch, first_day)
    before = pipeline_state(copy / "warehouse.duckdb", copy / "store", source_table)

    result = run_window("feature_job", str(first_day), str(last_day), dg.DagsterInstance.ephemeral())

    after = pipeline_state(copy / "warehouse.duckdb", copy / "store", source_table)
    if corrupt is None:
        assert result.success, failure_messages(result)
    else:
        assert not result.success
        message = "\n".join(failure_messages(result))
        for part in [*named, *map(str, evidence)]:
            assert part in message, f"{part!r} not in:\n{message}"
    assert after == before
