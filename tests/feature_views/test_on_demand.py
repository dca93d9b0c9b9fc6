"""On-demand features: one Python definition, called by the offline SQL and by the service;
views without them unchanged."""

import dataclasses
import datetime as dt
import hashlib
import json

import duckdb
import numpy as np
import pytest

from fti_assets.feature_views import on_demand
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V2, FLIGHT_DISRUPTION_V3
from fti_assets.feature_views.online import FlightRequest, on_demand_values
from fti_assets.feature_views.view import _declaration, point_in_time_sql


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
    online = [values["minutes_to_departure"] for values in on_demand_values(FLIGHT_DISRUPTION_V3, requests)]
    assert offline == online == [119.0, 121.5, (departures[2] - predicted) / dt.timedelta(minutes=1)]


def test_the_fingerprint_covers_the_functions_source():
    changed = dataclasses.replace(
        FLIGHT_DISRUPTION_V3,
        on_demand=(dataclasses.replace(on_demand.MINUTES_TO_DEPARTURE, function=lambda a, b: np.zeros(len(a))),),
    )
    assert _declaration(changed)["on_demand"] != _declaration(FLIGHT_DISRUPTION_V3)["on_demand"]
    assert "def minutes_to_departure" in _declaration(FLIGHT_DISRUPTION_V3)["on_demand"][0]["source"]
