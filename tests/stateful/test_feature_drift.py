"""Drift alarms: each day against the 28 days before it (population PSI), and per segment (weather
against the other airports on the same day, route delays against each route's own past),
thresholds calibrated on the training days. Synthetic flights with seasonal, day-to-day varying
weather and delays: ordinary days rarely alarm; a missing feature, one airport's sensor offset
and every route's delays doubled alarm on their first day."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1
from fti_assets.stateful import feature_baselines, segment_drift

FEATURES = ("pressure_mb", "temp_f", "route_mean_arr_delay_minutes_7d", "plane_seats", "day_of_week")
ORIGINS = ("EWR", "JFK", "LGA")
ROUTES = 40
START = dt.date(2013, 1, 1)
TRAINING_DAYS, SCORED_DAYS = 334, 31
SHIFT_DAY = START + dt.timedelta(days=TRAINING_DAYS + 10)


def flights(days: int, seed: int = 0) -> pd.DataFrame:
    """300 flights a day from three nearby airports: weather follows the season plus weather
    systems shared by the airports (day-to-day AR(1) moves) and the hours within a day; route
    delays vary by route and day."""
    rng = np.random.default_rng(seed)
    day_index = np.repeat(np.arange(days), 300)
    n = len(day_index)
    origin = rng.integers(0, len(ORIGINS), n)
    route = rng.integers(0, ROUTES, n)
    season = np.sin(2 * np.pi * (np.arange(days) - 100) / 365)
    pressure_system, temp_system = np.zeros(days), np.zeros(days)
    for d in range(1, days):
        pressure_system[d] = 0.7 * pressure_system[d - 1] + rng.normal(0, 5)
        temp_system[d] = 0.6 * temp_system[d - 1] + rng.normal(0, 5)
    # The feature is a 7-day mean of each route's daily mean delay.
    daily_delay = rng.gamma(2, 5, ROUTES)[None, :] * rng.lognormal(0, 0.5, (days, ROUTES))
    route_delay = pd.DataFrame(daily_delay).rolling(7, min_periods=1).mean().to_numpy()
    return pd.DataFrame(
        {
            "scheduled_dep_date": [START + dt.timedelta(days=int(d)) for d in day_index],
            "origin": np.array(ORIGINS)[origin],
            "route": route,
            "dest": np.char.add("D", route.astype(str)),
            "pressure_mb": 1016 + pressure_system[day_index] + origin * 0.5 + rng.normal(0, 2, n),
            "temp_f": 55 + 22 * season[day_index] + temp_system[day_index] + rng.normal(0, 6, n),
            "route_mean_arr_delay_minutes_7d": route_delay[day_index, route],
            "plane_seats": rng.choice([50, 76, 140, 180, 200], n).astype(float),
            "day_of_week": np.array([(START + dt.timedelta(days=int(d))).isoweekday() for d in day_index], float),
        }
    )


def alarms(rows: pd.DataFrame) -> pd.DataFrame:
    """The alarms mon_feature_drift would raise on the days after training: bins and thresholds
    from the training rows, then each scored day against the 28 days before it."""
    training = rows[rows["scheduled_dep_date"] < START + dt.timedelta(days=TRAINING_DAYS)]
    bins = feature_baselines.baseline_bins(training, FEATURES, 1)
    watched = feature_baselines.monitored(FEATURES)
    bins = bins[bins["feature"].isin(watched)]
    thresholds = feature_baselines.thresholds(feature_baselines.daily_bins(training, bins), watched, 1)
    psi = feature_baselines.trailing_psi(feature_baselines.daily_bins(rows, bins))
    scored = psi[psi["day"] >= START + dt.timedelta(days=TRAINING_DAYS)].merge(thresholds, on="feature")
    return scored.assign(is_alarm=scored["psi"] > scored["threshold"])


def segment_alarms(rows: pd.DataFrame) -> pd.DataFrame:
    """The alarms mon_segment_drift would raise on the days after training, for the segment
    baselines the flight disruption view declares for these features."""
    end = START + dt.timedelta(days=TRAINING_DAYS)
    kinds = segment_drift.segmented(FLIGHT_DISRUPTION_V1.groups, FEATURES)
    table, values = segment_drift.thresholds(rows[rows["scheduled_dep_date"] < end], kinds, 1)
    return segment_drift.statistics(rows[rows["scheduled_dep_date"] >= end], table, values)


def first_alarm(rows: pd.DataFrame, feature: str) -> dt.date | None:
    """The first day after training on which either check alarms on the feature."""
    days = set()
    for checked in (alarms(rows), segment_alarms(rows)):
        days |= set(checked.loc[(checked["feature"] == feature) & checked["is_alarm"].eq(True), "day"])
    return min(days) if days else None


@pytest.fixture(scope="module")
def ordinary():
    return flights(TRAINING_DAYS + SCORED_DAYS)


def test_calendar_features_are_not_monitored(ordinary):
    assert "day_of_week" not in set(alarms(ordinary)["feature"])
    assert feature_baselines.monitored(FEATURES) == FEATURES[:-1]


def test_ordinary_days_rarely_alarm(ordinary):
    checked = alarms(ordinary)
    assert len(checked) == SCORED_DAYS * 4
    assert checked["is_alarm"].mean() <= 0.02
    segments = segment_alarms(ordinary)
    # Two weather features at three airports, and the route delays.
    assert len(segments) == SCORED_DAYS * 7
    assert segments["is_alarm"].astype(bool).mean() <= 0.02


def shifted(ordinary: pd.DataFrame, feature: str, shift) -> pd.DataFrame:
    rows = ordinary.copy()
    after = rows["scheduled_dep_date"] >= SHIFT_DAY
    rows.loc[after, feature] = shift(rows[after])
    return rows


@pytest.mark.parametrize(
    "feature, shift",
    [
        # A feature missing: its source stopped arriving.
        ("plane_seats", lambda rows: rows["plane_seats"] * np.nan),
        # A feature missing at one airport: a third of the day's values NULL.
        ("plane_seats", lambda rows: rows["plane_seats"].where(rows["origin"] != "LGA")),
        # One airport's sensor offset: a third of the day's values move, less than ordinary
        # weather moves all of them, but far from the other airports' readings.
        ("pressure_mb", lambda rows: rows["pressure_mb"] + np.where(rows["origin"] == "EWR", 25, 0)),
        ("temp_f", lambda rows: rows["temp_f"] + np.where(rows["origin"] == "JFK", 30, 0)),
        # Every route's delays doubled: within what delays do from week to week over all routes,
        # beyond what each route's own past does.
        ("route_mean_arr_delay_minutes_7d", lambda rows: rows["route_mean_arr_delay_minutes_7d"] * 2),
    ],
    ids=["feature missing", "feature missing at one airport", "EWR pressure +25 mb", "JFK temperature +30 F",
         "route delays doubled"],
)
def test_an_injected_shift_alarms_on_its_first_day(ordinary, feature, shift):
    before = first_alarm(ordinary, feature)
    assert before is None or before > SHIFT_DAY
    assert first_alarm(shifted(ordinary, feature, shift), feature) == SHIFT_DAY


def test_trailing_psi_equals_numpy(ordinary):
    """The day's shares against the 28 previous days' pooled shares, over the training deciles."""
    training = ordinary[ordinary["scheduled_dep_date"] < START + dt.timedelta(days=TRAINING_DAYS)]
    present = training["temp_f"].to_numpy()
    inner = np.unique(np.quantile(present, np.linspace(0, 1, 11)))[1:-1]
    bins = feature_baselines.baseline_bins(training, ("temp_f",), 1)
    psi = feature_baselines.trailing_psi(feature_baselines.daily_bins(ordinary, bins)).set_index("day")["psi"]
    assert len(psi) == TRAINING_DAYS + SCORED_DAYS - 28
    for day in (START + dt.timedelta(days=28), SHIFT_DAY):
        window = ordinary[(ordinary["scheduled_dep_date"] >= day - dt.timedelta(days=28)) & (ordinary["scheduled_dep_date"] < day)]
        today = ordinary[ordinary["scheduled_dep_date"] == day]
        shares = [np.bincount(np.searchsorted(inner, r["temp_f"], side="right"), minlength=10) / len(r) for r in (today, window)]
        actual, expected = (np.maximum(s, 1e-4) for s in shares)
        assert psi[day] == pytest.approx(np.sum((actual - expected) * np.log(actual / expected)), rel=1e-12)


def test_thresholds_are_a_high_quantile_of_the_training_days(ordinary):
    training = ordinary[ordinary["scheduled_dep_date"] < START + dt.timedelta(days=TRAINING_DAYS)]
    bins = feature_baselines.baseline_bins(training, ("temp_f",), 1)
    daily = feature_baselines.daily_bins(training, bins)
    calibration = feature_baselines.trailing_psi(daily)["psi"]
    threshold = feature_baselines.thresholds(daily, ("temp_f",), 1)["threshold"].item()
    assert len(calibration) == TRAINING_DAYS - 28
    assert threshold == pytest.approx(np.quantile(calibration, 0.99) * 1.5)
    assert (calibration > threshold).sum() == 0


def test_too_short_a_training_period_has_no_threshold(ordinary):
    training = ordinary[ordinary["scheduled_dep_date"] < START + dt.timedelta(days=28)]
    bins = feature_baselines.baseline_bins(training, ("temp_f",), 1)
    row = feature_baselines.thresholds(feature_baselines.daily_bins(training, bins), ("temp_f",), 1).iloc[0]
    assert row["calibration_days"] == 0 and pd.isna(row["threshold"])


def test_a_null_counts_in_bin_zero_and_a_value_in_its_decile(ordinary):
    bins = feature_baselines.baseline_bins(ordinary, ("temp_f",), 1)
    day = pd.DataFrame({"scheduled_dep_date": [START] * 3, "temp_f": [np.nan, -1e9, 1e9]})
    counts = feature_baselines.daily_bins(day, bins)
    assert dict(zip(counts["bin"], counts["flights"], strict=True)) == {0: 1, 1: 1, 10: 1}
