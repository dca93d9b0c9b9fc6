"""One feature view, three paths: the online vector and probability of every flight of a
replayed day equal the offline point-in-time row and the batch prediction."""

import math

import duckdb
import pandas as pd

from fti_assets import settings
from fti_assets.feature_views import on_demand
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V3
from fti_assets.feature_views.online import OnlineView
from fti_assets.feature_views.view import point_in_time_sql
from fti_assets.stateful import online_store
from tests.conftest import DAY
from tests.online_pipeline.conftest import as_json, day_flights, serving


def offline_rows(warehouse, view) -> pd.DataFrame:
    """The view's point-in-time rows for the day's flights, as training and batch scoring build them."""
    spine = f"select * from features.{view.spine_relation} where scheduled_dep_date = date '{DAY}'"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        on_demand.register(connection, view.on_demand)
        return connection.sql(point_in_time_sql(view, spine)).df().set_index("flight_id")


def same(online_value, offline_value) -> bool:
    if online_value is None or (isinstance(online_value, float) and math.isnan(online_value)):
        return pd.isna(offline_value)
    if isinstance(offline_value, str):
        return online_value == offline_value
    return float(online_value) == float(offline_value)


def test_online_vector_equals_the_point_in_time_row_for_every_flight_of_the_day(online):
    """v3 is v1 plus the on-demand feature: one comparison covers every group, the spine
    features computed from the request, and the on-demand function on both paths."""
    flights = day_flights(online)
    offline = offline_rows(online, FLIGHT_DISRUPTION_V3)
    reader, path = online_store.Reader(settings.online_store_path()), OnlineView(FLIGHT_DISRUPTION_V3)
    differences = []
    for flight in flights:
        keys = path.keys(flight)
        vector = path.vector(flight, reader.read([k for k in keys if k]).rows, keys)
        expected = offline.loc[flight.flight_id]
        differences += [(flight.flight_id, f, v, expected[f]) for f, v in vector.items() if not same(v, expected[f])]
    assert len(flights) == len(offline) > 500
    assert differences == []
    # The comparison is not vacuous: most groups are found, some are stale or unknown.
    filled = offline[list(FLIGHT_DISRUPTION_V3.group_features)].notna().mean()
    assert filled.min() < 1 and filled.median() > 0.5


def test_served_probability_equals_the_batch_prediction_for_every_flight_of_the_day(online):
    flights = day_flights(online)
    with duckdb.connect(str(online), read_only=True) as connection:
        batch = dict(connection.sql("select flight_id, probability from inference.predictions where model_version = 1").fetchall())
    offline = offline_rows(online, FLIGHT_DISRUPTION_V1)
    with serving() as (client, _):
        answers = []
        for start in range(0, len(flights), 500):
            # No request time: the service predicts at the store's clock, the day's prediction time.
            body = {"flights": [as_json(f, with_time=False) for f in flights[start:start + 500]]}
            response = client.post("/predict/batch", json=body, params={"include_features": True})
            assert response.status_code == 200, response.text
            answers += response.json()["predictions"]
    assert [a["flight_id"] for a in answers] == [f.flight_id for f in flights]
    assert {a["model_version"] for a in answers} == {1}
    assert max(abs(a["probability"] - batch[a["flight_id"]]) for a in answers) <= 1e-12
    assert all(same(v, offline.loc[a["flight_id"], f]) for a in answers for f, v in a["features"].items())
