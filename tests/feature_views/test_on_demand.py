"""On-demand features: one Python definition, called by the offline SQL and by the service, on
request columns and on group columns as known at the prediction time; views without them unchanged."""

import dataclasses
import datetime as dt
import hashlib
import json

import duckdb
import numpy as np
import pytest

from fti_assets import manifest
from fti_assets.feature_views import on_demand
from fti_assets.feature_views.declared import (
    FLIGHT_DISRUPTION_INTRADAY_V1,
    FLIGHT_DISRUPTION_INTRADAY_V2,
    FLIGHT_DISRUPTION_V1,
    FLIGHT_DISRUPTION_V2,
    FLIGHT_DISRUPTION_V3,
    PLANE_TODAY_V2,
)
from fti_assets.feature_views.online import FlightRequest, OnlineView, on_demand_values
from fti_assets.feature_views.view import FeatureView, _declaration, fingerprint_parts, point_in_time_sql
from fti_assets.online_pipeline import materialize
from fti_assets.stateful import online_store


@pytest.mark.parametrize("view, sql_digest, declaration_digest", [
    # Digests of the SQL and declaration before on-demand features existed: snapshot ids,
    # fingerprints, and so registered models and their predictions, stay as they were.
    (FLIGHT_DISRUPTION_V1, "d9a351a3164336f0", "1f6105ad2dc93df9"),
    (FLIGHT_DISRUPTION_V2, "d0fe7c2cc8519581", "d3b9e420ad13a6ee"),
])
def test_views_without_on_demand_features_build_the_same_sql_and_fingerprint_as_before(view, sql_digest, declaration_digest):
    sql = point_in_time_sql(view, "select * from spine_input_table", ("scheduled_dep_at",))
    declaration = json.dumps(_declaration(view), sort_keys=True, default=str)
    assert hashlib.sha256(sql.encode()).hexdigest()[:16] == sql_digest
    assert hashlib.sha256(declaration.encode()).hexdigest()[:16] == declaration_digest


@pytest.mark.parametrize("view, sql_digest, declaration_digest", [
    # Before on-demand features could read group columns: the same SQL and declaration.
    (FLIGHT_DISRUPTION_V3, "fd2eae5493028c35", "29bf9c2cd2453d49"),
    (FLIGHT_DISRUPTION_INTRADAY_V1, "53000a1b4aa1caf0", "97fed25467059019"),
])
def test_views_without_group_inputs_build_the_same_sql_and_fingerprint_as_before(view, sql_digest, declaration_digest):
    sql = point_in_time_sql(view, "select * from spine_input_table", ("scheduled_dep_at",))
    declaration = json.dumps(_declaration(view), sort_keys=True, default=str)
    assert hashlib.sha256(sql.encode()).hexdigest()[:16] == sql_digest
    assert hashlib.sha256(declaration.encode()).hexdigest()[:16] == declaration_digest


def test_offline_sql_and_the_service_compute_the_same_values_with_one_function():
    # Around the March DST switch and midnight, in naive UTC as stored.
    departures = [dt.datetime(2013, 3, 10, 6, 59), dt.datetime(2013, 3, 10, 7, 1, 30), dt.datetime(2013, 1, 1, 4, 59, 59, 500000)]
    predicted = dt.datetime(2013, 3, 10, 5, 0)
    with duckdb.connect() as connection:
        on_demand.register(connection, FLIGHT_DISRUPTION_V3.on_demand)
        offline = [row[0] for row in connection.execute(
            "select minutes_to_departure(d, ?) from unnest(?::timestamp[]) as t(d)", [predicted, departures]
        ).fetchall()]
    requests = [FlightRequest("UA", 1, "EWR", "IAH", None, d, predicted) for d in departures]
    online = [
        values["minutes_to_departure"] for values in on_demand_values(FLIGHT_DISRUPTION_V3, requests, [{}] * 3)
    ]
    assert offline == online == [119.0, 121.5, (departures[2] - predicted) / dt.timedelta(minutes=1)]


def test_the_fingerprint_covers_the_functions_source():
    changed = dataclasses.replace(
        FLIGHT_DISRUPTION_V3,
        on_demand=(dataclasses.replace(on_demand.MINUTES_TO_DEPARTURE, function=lambda a, b: np.zeros(len(a))),),
    )
    assert _declaration(changed)["on_demand"] != _declaration(FLIGHT_DISRUPTION_V3)["on_demand"]
    assert "def minutes_to_departure" in _declaration(FLIGHT_DISRUPTION_V3)["on_demand"][0]["source"]


# The plane's day with a 2-hour TTL, so that a stale row is easy to make.
PLANE_TODAY = dataclasses.replace(PLANE_TODAY_V2, ttl=dt.timedelta(hours=2))
TURNAROUND_VIEW = FeatureView(
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


def test_a_feature_reading_a_group_column_is_the_same_offline_and_online():
    requests = [FlightRequest("UA", i, "EWR", "IAH", tail, dep, at) for i, (tail, _, _, dep, at, _) in enumerate(CASES)]
    with duckdb.connect() as connection:
        connection.execute("create schema features")
        connection.execute(
            "create table features.fg_plane_today_v2 (tailnum varchar, scheduled_dep_date date, event_at timestamp, "
            + ", ".join(f"{c} double" for c in PLANE_TODAY.columns) + ", latest_arrived_at timestamp)"
        )
        for request, (tail, event_at, arrived_at, *_) in zip(requests, CASES, strict=True):
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
                for r in requests
            )
            + ") as s(flight_id, carrier, tailnum, scheduled_dep_date, scheduled_dep_at, prediction_at, is_disrupted)"
        )
        on_demand.register(connection, TURNAROUND_VIEW.on_demand)
        offline = dict(connection.sql(
            f"select flight_id, plane_turnaround_minutes from ({point_in_time_sql(TURNAROUND_VIEW, 'select * from features.spine')})"
        ).fetchall())
        # The online store's rows as the materialization writes them (the latest per key).
        stored = materialize.latest_rows(connection, [PLANE_TODAY], dt.datetime(2013, 3, 11), "spine")
    rows = {online_store.store_key(PLANE_TODAY.relation, e): (at, vals) for e, at, vals in stored[PLANE_TODAY.relation]}
    path = OnlineView(TURNAROUND_VIEW)
    online = {r.flight_id: path.vector(r, rows, path.keys(r))["plane_turnaround_minutes"] for r in requests}
    assert offline == online == {r.flight_id: case[-1] for r, case in zip(requests, CASES, strict=True)}
    # The group input is not a model feature: only the on-demand feature computed from it is.
    assert "latest_arrived_at" not in TURNAROUND_VIEW.features
    assert "plane_turnaround_minutes" in TURNAROUND_VIEW.numeric_features


def test_a_group_input_that_feeds_no_on_demand_feature_is_refused():
    with pytest.raises(ValueError, match=r"group inputs \['latest_arrived_at'\] feed no on-demand feature"):
        dataclasses.replace(TURNAROUND_VIEW, on_demand=())


def test_the_fingerprint_covers_group_inputs_and_the_python_that_reads_them():
    parts = fingerprint_parts(FLIGHT_DISRUPTION_INTRADAY_V2, manifest.load())
    assert "python.group_inputs" in parts and "fg_plane_today_v2.sql" in parts
    assert "python.group_inputs" not in fingerprint_parts(FLIGHT_DISRUPTION_INTRADAY_V1, manifest.load())
    declared = _declaration(FLIGHT_DISRUPTION_INTRADAY_V2)
    assert [g.get("inputs") for g in declared["groups"] if g["name"] == "fg_plane_today"] == [("latest_arrived_at",)]
    without = dataclasses.replace(
        FLIGHT_DISRUPTION_INTRADAY_V2,
        groups=tuple(dataclasses.replace(g, inputs=()) for g in FLIGHT_DISRUPTION_INTRADAY_V2.groups),
        on_demand=(on_demand.MINUTES_TO_DEPARTURE,),
    )
    assert _declaration(without)["groups"] != declared["groups"]
