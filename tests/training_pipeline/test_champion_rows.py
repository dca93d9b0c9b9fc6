"""The champion is judged on the challenger's flights through its own view, on whatever
connection the training step holds: the on-demand features of the champion's view included."""

import duckdb
import pandas as pd

from fti_assets.training_pipeline import champion
from tests.feature_views import turnaround


def test_rows_through_a_view_with_on_demand_features_on_a_fresh_connection():
    flights = turnaround.requests()
    with duckdb.connect() as connection:
        turnaround.build_tables(connection, flights)
        # Nothing registered on this connection: the challenger's view may call other functions.
        keys = pd.DataFrame({"flight_id": [f.flight_id for f in reversed(flights)]})
        rows = champion.rows_through_view(connection, turnaround.VIEW, keys)
    assert list(rows["flight_id"]) == list(keys["flight_id"])
    expected = turnaround.expected(flights)
    assert [None if pd.isna(v) else v for v in rows["plane_turnaround_minutes"]] == [expected[f] for f in keys["flight_id"]]
