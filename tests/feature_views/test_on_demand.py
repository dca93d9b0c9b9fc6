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
)
from fti_assets.feature_views.online import FlightRequest, OnlineView, on_demand_values
from fti_assets.feature_views.view import _declaration, fingerprint_parts, point_in_time_sql
from fti_assets.online_pipeline import materialize
from fti_assets.stateful import online_store
from tests.feature_views import turnaround


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


def test_a_feature_reading_a_group_column_is_the_same_offline_and_online():
    requests = turnaround.requests()
    with duckdb.connect() as connection:
        turnaround.build_tables(connection, requests)
        on_demand.register(connection, turnaround.VIEW.on_demand)
        offline = dict(connection.sql(
            f"select flight_id, plane_turnaround_minutes from ({point_in_time_sql(turnaround.VIEW, 'select * from features.spine')})"
        ).fetchall())
        # The online store's rows as the materialization writes them (the latest per key).
        stored = materialize.latest_rows(connection, [turnaround.PLANE_TODAY], dt.datetime(2013, 3, 11), "spine")
    relation = turnaround.PLANE_TODAY.relation
    rows = {online_store.store_key(relation, e): (at, vals) for e, at, vals in stored[relation]}
    path = OnlineView(turnaround.VIEW)
    online = {r.flight_id: path.vector(r, rows, path.keys(r))["plane_turnaround_minutes"] for r in requests}
    assert offline == online == turnaround.expected(requests)
    # The group input is not a model feature: only the on-demand feature computed from it is.
    assert "latest_arrived_at" not in turnaround.VIEW.features
    assert "plane_turnaround_minutes" in turnaround.VIEW.numeric_features


def test_a_group_input_that_feeds_no_on_demand_feature_is_refused():
    with pytest.raises(ValueError, match=r"group inputs \['latest_arrived_at'\] feed no on-demand feature"):
        dataclasses.replace(turnaround.VIEW, on_demand=())


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
