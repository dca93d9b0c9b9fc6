"""A view reading one on-demand feature with a group input (the turnaround), its group table
and spine in a fresh DuckDB, and the cases both paths must agree on."""

import dataclasses
import datetime as dt

import duckdb

from fti_assets.feature_views import on_demand
from fti_assets.feature_views.declared import PLANE_TODAY_V2
from fti_assets.feature_views.online import FlightRequest
from fti_assets.feature_views.view import FeatureView

# The plane's day with a 2-hour TTL, so that a stale row is easy to make.
PLANE_TODAY = dataclasses.replace(PLANE_TODAY_V2, ttl=dt.timedelta(hours=2))
VIEW = FeatureView(
    name="turnaround",
    version=1,
    spine_relation="spine",
    keys=("flight_id",),
    spine_features=("carrier",),
    categorical_features=("carrier",),
    label="is_disrupted",
    groups=(PLANE_TODAY,),
    on_demand=(on_demand.PLANE_TURNAROUND_MINUTES,),
)

# (tail, the group row's event time or None, when its latest leg arrived, the flight's
# scheduled departure, its prediction time, the expected minutes); naive UTC, as stored.
CASES = [
    ("N1", dt.datetime(2013, 3, 9, 12), dt.datetime(2013, 3, 9, 11, 50), dt.datetime(2013, 3, 9, 15), dt.datetime(2013, 3, 9, 13), 190.0),
    # Departed, not arrived yet.
    ("N2", dt.datetime(2013, 3, 9, 12), None, dt.datetime(2013, 3, 9, 15), dt.datetime(2013, 3, 9, 13), None),
    # The arrival is known but the row is older than the TTL: NULL, as its feature columns are.
    ("N3", dt.datetime(2013, 3, 9, 10), dt.datetime(2013, 3, 9, 9, 30), dt.datetime(2013, 3, 9, 15), dt.datetime(2013, 3, 9, 13), None),
    # No row for the plane's day.
    ("N4", None, None, dt.datetime(2013, 3, 9, 15), dt.datetime(2013, 3, 9, 13), None),
    # Across the DST switch (02:00 local is 07:00 UTC): minutes are UTC minutes.
    ("N5", dt.datetime(2013, 3, 10, 6, 50), dt.datetime(2013, 3, 10, 6, 45), dt.datetime(2013, 3, 10, 7, 30), dt.datetime(2013, 3, 10, 7), 45.0),
]


def requests() -> list[FlightRequest]:
    return [FlightRequest("UA", i, "EWR", "IAH", tail, dep, at) for i, (tail, _, _, dep, at, _) in enumerate(CASES)]


def expected(flights: list[FlightRequest]) -> dict[str, float | None]:
    return {r.flight_id: case[-1] for r, case in zip(flights, CASES, strict=True)}


def build_tables(connection: duckdb.DuckDBPyConnection, flights: list[FlightRequest]) -> None:
    """features.fg_plane_today_v2 with each case's row, and features.spine with its flight."""
    connection.execute("create schema features")
    connection.execute(
        "create table features.fg_plane_today_v2 (tailnum varchar, scheduled_dep_date date, event_at timestamp, "
        + ", ".join(f"{c} double" for c in PLANE_TODAY.columns) + ", latest_arrived_at timestamp)"
    )
    for request, (tail, event_at, arrived_at, *_) in zip(flights, CASES, strict=True):
        if event_at is not None:
            connection.execute(
                "insert into features.fg_plane_today_v2 values (?, ?, ?, 1, 0, 5, -3, 5, ?)",
                [tail, request.scheduled_dep_local.date(), event_at, arrived_at],
            )
    connection.execute(
        "create table features.spine as select * from (values "
        + ", ".join(
            f"('{r.flight_id}', '{r.carrier}', '{r.tailnum}', date '{r.scheduled_dep_local.date()}', "
            f"timestamp '{r.scheduled_dep_at}', timestamp '{r.prediction_at}', false)"
            for r in flights
        )
        + ") as s(flight_id, carrier, tailnum, scheduled_dep_date, scheduled_dep_at, prediction_at, is_disrupted)"
    )
