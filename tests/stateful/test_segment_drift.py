"""Per-segment drift baselines: declared per feature group, stored with the model version."""

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest

from fti_assets.feature_views.declared import AIRCRAFT_V1, FLIGHT_DISRUPTION_V1, ORIGIN_WEATHER_V1
from fti_assets.stateful import registry, segment_drift

DAYS = pd.date_range("2013-01-01", periods=40).date


def rows() -> pd.DataFrame:
    """Two routes from each of three airports, ten flights a day each."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        [(day, origin, dest) for day in DAYS for origin in ("EWR", "JFK", "LGA") for dest in ("LAX", "ORD")] * 10,
        columns=["scheduled_dep_date", "origin", "dest"],
    ).assign(carrier="B6")
    frame["temp_f"] = 50 + rng.normal(0, 1, len(frame)).round(0)
    frame["route_flights_7d"] = np.where(frame["dest"] == "LAX", 70.0, 35.0)
    frame["plane_seats"] = 150.0
    return frame


def test_the_view_declares_a_baseline_per_segmented_group():
    kinds = segment_drift.segmented(FLIGHT_DISRUPTION_V1.groups, FLIGHT_DISRUPTION_V1.numeric_features)
    assert kinds["temp_f"] == ("other airports", ("origin",))
    assert kinds["route_mean_arr_delay_minutes_7d"] == ("own past", ("origin", "dest"))
    assert kinds["carrier_origin_flights_28d"] == ("own past", ("carrier", "origin"))
    # Aircraft features are keyed by a tail number that predictions do not keep: population only.
    assert not set(AIRCRAFT_V1.columns) & set(kinds)


def test_a_segment_predictions_do_not_keep_is_refused():
    by_tail = dataclasses.replace(ORIGIN_WEATHER_V1, join_keys=(("tailnum", "tailnum"),))
    with pytest.raises(ValueError, match=r"fg_origin_weather: .*\['tailnum'\]"):
        segment_drift.segmented((by_tail,), ("temp_f",))


def test_a_registered_version_has_its_segment_baselines(tmp_path):
    def record(version):
        segment_drift.record(connection, rows(), FLIGHT_DISRUPTION_V1.groups, ("temp_f", "route_flights_7d"), version)

    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        version = registry.register_version(
            connection, feature_view="v", feature_view_version=1, fingerprint="f", snapshot_id="s",
            input_versions={}, hyperparameters={}, metrics={}, artifact_sha256="0" * 64, artifact_path="x.skops",
            with_version=record,
        )
        thresholds = connection.execute(
            "select feature, baseline, segment_by, segment, calibration_days, threshold is not null "
            "from inference.segment_drift_thresholds where model_version = ? order by all", [version]
        ).fetchall()
        values = connection.execute(
            "select feature, count(distinct day), count(distinct segment), sum(flights) "
            "from inference.segment_daily_values where model_version = ? group by all", [version]
        ).fetchall()
    assert thresholds == [
        ("route_flights_7d", "own past", "origin,dest", None, 40 - 7, True),
        *(("temp_f", "other airports", "origin", airport, 40, True) for airport in ("EWR", "JFK", "LGA")),
    ]
    # Only "own past" windows need the training days' values: six routes, ten flights each a day.
    assert values == [("route_flights_7d", 40, 6, 40 * 60)]


def test_a_constant_route_never_moves():
    values = segment_drift.segment_values(rows(), "route_flights_7d", ("origin", "dest"))
    moves = segment_drift.own_past_moves(values)
    assert len(moves) == 6 * (40 - 7) and not moves["moved"].any()


@pytest.mark.parametrize("last_value, moved", [(16.0, False), (21.9, False), (22.1, True), (4.1, False), (3.9, True)])
def test_a_segment_moves_when_further_outside_its_past_range_than_it_is_wide(last_value, moved):
    """Ten days alternating 10 and 16 (a range 6 wide): the eleventh moved above 22 or below 4."""
    values = pd.DataFrame(
        {"day": DAYS[:11], "segment": "JFK/LAX", "value": [10.0, 16.0] * 5 + [last_value], "flights": 30}
    )
    judged = segment_drift.own_past_moves(values)
    assert judged["day"].tolist() == list(DAYS[7:11])  # a week of past first
    assert judged["moved"].tolist() == [False, False, False, moved]


@pytest.mark.parametrize("last_value, moved", [(8.0, False), (10.0, False), (10.1, True), (14.0, True), (3.9, True)])
def test_a_segment_moves_when_its_step_is_further_outside_its_past_steps_than_they_are_wide(last_value, moved):
    """A trailing mean rising to 14 and back by 1 a day (steps -1..+1, a range 2 wide) is at 7:
    a doubling to 14 stays within the level's range (0..14) but is a step of 7, beyond +3. Two
    flat routes keep the day's median change at 0."""
    climb = [float(v) for v in [*range(15), *range(13, 6, -1)]]
    days = DAYS[: len(climb) + 1]
    values = pd.concat(
        [
            pd.DataFrame({"day": days, "segment": "JFK/LAX", "value": [*climb, last_value], "flights": 30}),
            *(pd.DataFrame({"day": days, "segment": route, "value": 5.0, "flights": 30}) for route in ("EWR/ORD", "LGA/ORD")),
        ],
        ignore_index=True,
    )
    judged = segment_drift.own_past_moves(values)
    last = judged[judged["segment"] == "JFK/LAX"].iloc[-1]
    assert last[["low", "high", "step_low", "step_high", "step"]].tolist() == [0.0, 14.0, -1.0, 1.0, last_value - 7]
    assert last["moved"] == moved


def test_a_step_every_segment_takes_that_day_is_not_a_move():
    """A storm: three routes' trailing means, each rising to 14 and back by 1 a day, all double
    from 7 to 14 on the same day: within their levels' range, and no step beyond the day's."""
    climb = [float(v) for v in [*range(15), *range(13, 6, -1), 14]]
    values = pd.concat(
        [
            pd.DataFrame({"day": DAYS[: len(climb)], "segment": route, "value": climb, "flights": 30})
            for route in ("JFK/LAX", "EWR/ORD", "LGA/ORD")
        ],
        ignore_index=True,
    )
    judged = segment_drift.own_past_moves(values)
    storm = judged[judged["day"] == DAYS[len(climb) - 1]]
    assert storm["step"].tolist() == [0.0, 0.0, 0.0]
    assert not storm["moved"].any()


def test_an_airport_alone_that_day_has_no_gap():
    values = pd.DataFrame(
        {"day": [DAYS[0]] * 3 + [DAYS[1]], "segment": ["EWR", "JFK", "LGA", "EWR"], "value": [1.0, 2.0, 4.0, 9.0]}
    )
    gaps = segment_drift.airport_gaps(values)
    assert gaps[["day", "segment", "gap"]].values.tolist() == [[DAYS[0], "EWR", -1.0], [DAYS[0], "JFK", 0.0], [DAYS[0], "LGA", 2.0]]
