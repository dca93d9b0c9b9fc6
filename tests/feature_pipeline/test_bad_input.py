"""A broken delivered day fails the matching dbt test, names what is wrong, and builds nothing."""

import datetime as dt
import shutil

import dagster as dg
import duckdb
import pandas as pd
import pytest

from fti_assets.runner import failure_messages, run_window
from tests.conftest import LAST, write_source_subset

BAD_DAY = LAST + dt.timedelta(days=1)
# Built from flights; the weather group is not downstream of them and may still advance.
FLIGHT_FEATURES = ["fg_route_history_v1", "fg_carrier_origin_history_v1", "fg_aircraft_v1", "flight_spine_v1"]


def null_key(flights: pd.DataFrame, day: pd.Series) -> tuple[pd.DataFrame, str]:
    row = flights.index[day][0]
    flights.loc[row, "carrier"] = None
    return flights, flights.loc[row, "tailnum"]


def negative_distance(flights, day):
    row = flights.index[day][1]
    flights.loc[row, "distance"] = "-250"
    return flights, "-250"


def unknown_airport(flights, day):
    row = flights.index[day][2]
    flights.loc[row, "dest"] = "ZZZ"
    return flights, "ZZZ"


def duplicate_flight(flights, day):
    row = flights.loc[[flights.index[day][3]]]
    flight_id = f"{row.carrier.iloc[0]}-{row.flight.iloc[0]}-{row.origin.iloc[0]}-{BAD_DAY}"
    return pd.concat([flights, row]), flight_id


CASES = {
    # case: (corruption, the table.column the message must name)
    "null key": (null_key, "stg_flights", "column carrier"),
    "negative distance": (negative_distance, "stg_flights", "column distance_miles"),
    "unknown airport": (unknown_airport, "stg_flights", "column dest"),
    "duplicate flight": (duplicate_flight, "stg_flights", "column flight_id"),
}


def snapshot(path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {t: connection.sql(f"select * from features.{t} order by all").fetchall() for t in FLIGHT_FEATURES}


@pytest.mark.parametrize("case", CASES)
def test_broken_day_fails_its_check_and_builds_nothing(case, built, tmp_path, monkeypatch):
    corrupt, table, column = CASES[case]
    root, _ = built
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(root / "warehouse.duckdb", warehouse)
    source = write_source_subset(tmp_path / "source", BAD_DAY, BAD_DAY)
    flights = pd.read_csv(source / "flights.csv", dtype=str, keep_default_na=False, na_values=["", "NA"])
    on_bad_day = pd.Series(True, index=flights.index)
    flights, evidence = corrupt(flights, on_bad_day)
    flights.to_csv(source / "flights.csv", index=False)
    monkeypatch.setenv("FTI_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("FTI_SOURCE_DIR", str(source))
    before = snapshot(warehouse)

    result = run_window("feature_job", str(BAD_DAY), str(BAD_DAY), dg.DagsterInstance.ephemeral())

    assert not result.success
    message = "\n".join(failure_messages(result))
    assert table in message and column in message, message
    assert str(evidence) in message, message
    assert snapshot(warehouse) == before
