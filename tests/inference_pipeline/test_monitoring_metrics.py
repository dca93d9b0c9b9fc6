"""Every monitoring metric (dbt SQL) equals scikit-learn's or numpy's on the same rows."""

import os
import subprocess

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from fti_assets import settings
from fti_assets.constants import CALENDAR_FEATURES, SEGMENT_DRIFT_BASELINES
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.manifest import dbt_executable
from fti_assets.stateful.feature_baselines import BINS as BASELINE_BINS


def frame(folder, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql(sql).df()


def reference_metrics(rows: pd.DataFrame) -> dict[str, float]:
    y, p = rows["is_disrupted"].astype(bool).to_numpy(), rows["probability"].to_numpy()
    return {
        "labelled_flights": len(y),
        "disrupted_flights": int(y.sum()),
        "mean_probability": p.mean(),
        "observed_disruption_rate": y.mean(),
        "brier_score": brier_score_loss(y, p),
        "log_loss": log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[False, True]),
        "roc_auc": roc_auc_score(y, p) if 0 < y.sum() < len(y) else np.nan,
    }


def assert_rows_match(sql_rows: pd.DataFrame, labelled: pd.DataFrame, keys: list[str]) -> None:
    groups = labelled.groupby(keys)
    assert len(sql_rows) == groups.ngroups > 0
    for _, row in sql_rows.iterrows():
        expected = reference_metrics(groups.get_group(tuple(row[k] for k in keys)))
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), (name, dict(row[keys]))


def test_daily_performance_equals_scikit_learn(scored):
    folder, _ = scored
    labelled = frame(folder, "select * from monitoring.mon_labelled_predictions")
    daily = frame(folder, "select * from monitoring.mon_daily_performance")
    assert labelled["is_disrupted"].nunique() == 2
    assert_rows_match(daily, labelled, ["scheduled_dep_date", "model_version"])


def test_performance_by_segment_equals_scikit_learn(scored):
    folder, _ = scored
    labelled = frame(folder, "select * from monitoring.mon_labelled_predictions")
    segments = pd.concat([labelled.assign(segment_type=kind, segment=labelled[kind]) for kind in ("carrier", "origin")])
    by_segment = frame(folder, "select * from monitoring.mon_daily_performance_by_segment")
    assert_rows_match(by_segment, segments, ["scheduled_dep_date", "model_version", "segment_type", "segment"])


def test_calibration_bins_equal_numpy(scored):
    folder, _ = scored
    labelled = frame(folder, "select * from monitoring.mon_labelled_predictions")
    p, y = labelled["probability"].to_numpy(), labelled["is_disrupted"].astype(float).to_numpy()
    bins = np.minimum(np.floor(p * 10), 9).astype(int)
    calibration = frame(folder, "select * from monitoring.mon_calibration order by probability_bin")
    assert calibration["probability_bin"].tolist() == sorted(set(bins))
    for _, row in calibration.iterrows():
        member = bins == row["probability_bin"]
        assert row["flights"] == member.sum()
        assert row["mean_predicted"] == pytest.approx(p[member].mean(), rel=1e-12)
        assert row["observed_rate"] == pytest.approx(y[member].mean(), rel=1e-12, abs=1e-15)


def numpy_psi(training: np.ndarray, reference: np.ndarray, scored: np.ndarray) -> float:
    """PSI of the scored values against the reference values, over the training deciles plus a
    NULL bin, empty bins floored at 1e-4 (as documented)."""
    present = training[~np.isnan(training)]
    inner = np.unique(np.quantile(present, np.linspace(0, 1, BASELINE_BINS + 1)))[1:-1]

    def shares(values: np.ndarray) -> np.ndarray:
        known = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(inner, known, side="right"), minlength=len(inner) + 1)
        return np.concatenate([[np.isnan(values).sum()], counts]) / len(values)

    expected, actual = np.maximum(shares(reference), 1e-4), np.maximum(shares(scored), 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def test_feature_drift_psi_equals_numpy(scored):
    """Each scored day against the training rows of the 28 days before it (the fixture scores
    its last training day, so the scored rows replace that day's training rows)."""
    folder, _ = scored
    snapshot = frame(folder, "select s.table_name from training.snapshots s join registry.model_versions v using (snapshot_id)")
    training = frame(folder, f"select * from {snapshot['table_name'][0]}")
    scored_rows = frame(folder, "select * from inference.scored_features where model_version = 1")
    drift = frame(folder, "select * from monitoring.mon_feature_drift where model_version = 1")

    assert sorted(drift["feature"]) == sorted(set(VIEW.numeric_features) - set(CALENDAR_FEATURES))
    days = pd.to_datetime(training["scheduled_dep_date"])
    for _, row in drift.iterrows():
        day = pd.Timestamp(row["scheduled_dep_date"])
        reference = training[(days >= day - pd.Timedelta(days=28)) & (days < day)]
        today = scored_rows[pd.to_datetime(scored_rows["scheduled_dep_date"]) == day]
        assert len(reference) and len(today)
        expected = numpy_psi(
            training[row["feature"]].astype(float).to_numpy(),
            reference[row["feature"]].astype(float).to_numpy(),
            today[row["feature"]].astype(float).to_numpy(),
        )
        assert row["psi"] == pytest.approx(expected, rel=1e-9, abs=1e-12), row["feature"]


def segment_days(rows: pd.DataFrame, feature: str, keys: list[str]) -> pd.DataFrame:
    """Per day and segment: the median of the flights' values, and how many had one."""
    known = rows.dropna(subset=[feature])
    return known.groupby(["scheduled_dep_date", *keys])[feature].agg(["median", "size"])


def airport_figures(training: pd.DataFrame, scored_rows: pd.DataFrame, feature: str) -> dict:
    """Per day and airport, on days with more than one airport: |day value - airports' median -
    usual gap|, and the 99th percentile of that over the training days x 1.5."""
    usual_gaps, gaps = (
        (d["median"] - d["median"].groupby(level=0).transform("median"))[d.groupby(level=0)["median"].transform("size") > 1]
        for d in (segment_days(rows, feature, ["origin"]) for rows in (training, scored_rows))
    )
    figures = {}
    for (day, airport), gap in gaps.items():
        usual = usual_gaps.xs(airport, level=1).to_numpy()
        center = np.median(usual)
        figures[(pd.Timestamp(day), feature, airport)] = (
            abs(gap - center), np.quantile(np.abs(usual - center), 0.99) * 1.5
        )
    return figures


def own_past_figures(
    training: pd.DataFrame, scored_rows: pd.DataFrame, feature: str, keys: list[str], min_past_days: int
) -> dict:
    """Per day: the share of flights on segments whose value, or whose step (the change from their
    previous value less that day's median change over the segments), lies further outside the
    range of their own 28 days before it than that range is wide (training days, the scored day
    replacing its training rows)."""

    def outside(value, past):
        width = past.max() - past.min()
        return not past.min() - width <= value <= past.max() + width

    today = segment_days(scored_rows, feature, keys)
    earlier = training[~training["scheduled_dep_date"].isin(scored_rows["scheduled_dep_date"])]
    history = pd.concat([segment_days(earlier, feature, keys), today])["median"].sort_index()
    segment_levels = list(range(1, history.index.nlevels))
    changes = history.groupby(level=segment_levels).diff()
    all_steps = changes - changes.groupby(level=0).transform("median")
    figures = {}
    for day, segments in today.groupby(level=0):
        moved = judged = 0
        for key, row in segments.iterrows():
            segment = history.xs(key[1:], level=segment_levels)
            steps = all_steps.xs(key[1:], level=segment_levels)
            in_window = (segment.index >= day - pd.Timedelta(days=28)) & (segment.index < day)
            past, past_steps = segment[in_window], steps[in_window].dropna()
            if len(past) >= min_past_days:
                judged += row["size"]
                moved += row["size"] * (
                    outside(row["median"], past)
                    or (len(past_steps) >= min_past_days and outside(steps[day], past_steps))
                )
        if judged:
            figures[(pd.Timestamp(day), feature, None)] = (moved / judged, None)
    return figures


def test_segment_drift_equals_numpy(scored_copy):
    """The fixture trains on five days: too few for a week of a route's own past, so the test
    lowers the stored minimum to two days and rebuilds the model."""
    with duckdb.connect(str(scored_copy)) as connection:
        connection.sql("update inference.segment_drift_thresholds set min_past_days = 2")
    result = subprocess.run(
        [str(dbt_executable()), "build", "--select", "mon_segment_drift", "--profiles-dir", "."],
        cwd=settings.DBT_PROJECT_DIR, env=os.environ, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout
    folder = scored_copy.parent
    snapshot = frame(
        folder, "select s.table_name from training.snapshots s join registry.model_versions v using (snapshot_id)"
    )
    training = frame(folder, f"select * from {snapshot['table_name'][0]}")
    scored_rows = frame(
        folder,
        "select s.*, p.carrier, p.origin, p.dest from inference.scored_features s "
        "join inference.predictions p using (flight_id, model_version) where s.model_version = 1",
    )
    drift = frame(folder, "select * from monitoring.mon_segment_drift where model_version = 1")

    expected = {}
    for group in VIEW.groups:
        baseline, keys = SEGMENT_DRIFT_BASELINES.get(group.name), [spine for spine, _ in group.join_keys]
        for feature in group.columns if baseline else ():
            if baseline == "other airports":
                expected.update(airport_figures(training, scored_rows, feature))
            else:
                expected.update(own_past_figures(training, scored_rows, feature, keys, min_past_days=2))
    assert {"other airports", "own past"} <= set(drift["baseline"])
    assert len(drift) == len(expected)
    for _, row in drift.iterrows():
        segment = None if pd.isna(row["segment"]) else row["segment"]
        statistic, threshold = expected[(pd.Timestamp(row["scheduled_dep_date"]), row["feature"], segment)]
        assert row["statistic"] == pytest.approx(statistic, rel=1e-12, abs=1e-12), (row["feature"], segment)
        if threshold is not None:
            assert row["threshold"] == pytest.approx(threshold, rel=1e-12, abs=1e-12), (row["feature"], segment)
            assert row["is_alarm"] == (statistic > threshold)
