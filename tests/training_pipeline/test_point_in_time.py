"""The point-in-time join, checked against a brute-force recomputation in pandas."""

import dataclasses
import datetime as dt

import duckdb
import pandas as pd
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.feature_views.view import FeatureGroupRef, FeatureView, point_in_time_sql
from tests.training_pipeline import synthetic

SPINE = f"select * from features.{VIEW.spine_relation}"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("pit") / "warehouse.duckdb"
    frames = synthetic.build(path, VIEW)
    with duckdb.connect(str(path), read_only=True) as connection:
        joined = connection.sql(point_in_time_sql(VIEW, SPINE)).df()
    return frames, joined


def brute_force(frames: dict, spine_row: pd.Series, group: FeatureGroupRef) -> dict:
    """Latest group row with the same keys known at the prediction time, if within the TTL."""
    rows = frames[group.relation]
    known = rows[rows["event_at"] <= spine_row["prediction_at"]]
    for spine_column, group_column in group.join_keys:
        known = known[known[group_column] == spine_row[spine_column]]
    if known.empty:
        return dict.fromkeys(group.columns), "no history"
    latest = known.loc[known["event_at"].idxmax()]
    if latest["event_at"] <= spine_row["prediction_at"] - group.ttl:
        return dict.fromkeys(group.columns), "expired"
    return {c: latest[c] for c in group.columns}, "fresh"


def test_every_spine_row_is_kept_once(warehouse):
    frames, joined = warehouse
    spine = frames[VIEW.spine_relation]
    assert len(joined) == len(spine)
    assert sorted(joined["flight_id"]) == sorted(spine["flight_id"])


def test_features_equal_brute_force_recomputation(warehouse):
    frames, joined = warehouse
    spine = frames[VIEW.spine_relation].set_index("flight_id")
    sample = joined.sample(n=300, random_state=0)
    outcomes = {"no history": 0, "expired": 0, "fresh": 0}
    for _, row in sample.iterrows():
        spine_row = spine.loc[row["flight_id"]]
        for group in VIEW.groups:
            expected, outcome = brute_force(frames, spine_row, group)
            outcomes[outcome] += 1
            for column, value in expected.items():
                if value is None:
                    assert pd.isna(row[column]), (row["flight_id"], group.relation, column, outcome)
                else:
                    assert row[column] == pytest.approx(value), (row["flight_id"], group.relation, column)
    # The sample must exercise all three cases, the TTL expiry above all.
    assert all(count > 0 for count in outcomes.values()), outcomes


def test_label_and_schedule_features_pass_through(warehouse):
    frames, joined = warehouse
    spine = frames[VIEW.spine_relation].set_index("flight_id")
    aligned = joined.set_index("flight_id").loc[spine.index]
    assert (aligned["is_disrupted"] == spine["is_disrupted"]).all()
    assert (aligned["distance_miles"] == spine["distance_miles"]).all()


def test_inference_spine_without_label_omits_it(tmp_path):
    path = tmp_path / "w.duckdb"
    synthetic.build(path, VIEW, days=3, flights_per_day=5)
    with duckdb.connect(str(path), read_only=True) as connection:
        joined = connection.sql(point_in_time_sql(VIEW, f"select * exclude (is_disrupted, label_known_at) from features.{VIEW.spine_relation}")).df()
    assert "is_disrupted" not in joined.columns
    assert list(joined.columns) == ["flight_id", "scheduled_dep_date", *VIEW.spine_features, "prediction_at", *VIEW.group_features]


WEATHER = FeatureGroupRef("weather", 1, (("origin", "origin"),), ("temp_f",), dt.timedelta(hours=3))
TINY = FeatureView("tiny", 1, "spine_v1", ("flight_id",), ("origin",), (), "is_disrupted", (WEATHER,))
P = dt.datetime(2013, 3, 10, 5)
US = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([(P, 1.0), (P + US, 2.0)], 1.0),  # an event at exactly the prediction time is known
        ([(P + US, 2.0)], None),  # one a microsecond later is not
        ([(P - dt.timedelta(hours=3), 3.0)], None),  # exactly TTL old: expired
        ([(P - dt.timedelta(hours=3) + US, 4.0)], 4.0),  # just inside the TTL
        ([], None),  # no history at all
    ],
)
def test_prediction_time_and_ttl_boundaries(tmp_path, events, expected):
    with duckdb.connect(str(tmp_path / "b.duckdb")) as connection:
        connection.sql("create schema features")
        connection.sql("create table features.weather_v1 (origin varchar, event_at timestamp, temp_f double)")
        for at, value in events:
            connection.execute("insert into features.weather_v1 values ('JFK', ?, ?)", [at, value]).fetchall()
        spine = f"select 'f1' as flight_id, 'JFK' as origin, timestamp '{P}' as prediction_at, true as is_disrupted"
        rows = connection.sql(point_in_time_sql(TINY, spine)).fetchall()
    assert len(rows) == 1
    assert rows[0][-1] == expected


def test_group_reference_names_an_exact_version():
    v2 = dataclasses.replace(VIEW.groups[0], version=2)
    assert v2.relation == "fg_route_history_v2"
    assert "features.fg_route_history_v2" in point_in_time_sql(dataclasses.replace(VIEW, groups=(v2,)), SPINE)
