"""Drift baselines are stored with their model version, in the registration's transaction."""

import duckdb
import pandas as pd
import pytest

from fti_assets.stateful import feature_baselines, registry

TRAINING_ROWS = pd.DataFrame({"wind": [1.0, 2.0, None, 4.0], "seats": [100.0, 100.0, 180.0, 200.0]})


def _register(connection, with_version) -> int:
    return registry.register_version(
        connection, feature_view="v", feature_view_version=1, fingerprint="f", snapshot_id="s",
        input_versions={}, hyperparameters={}, metrics={}, artifact_sha256="0" * 64, artifact_path="x.skops",
        with_version=with_version,
    )


def _baseline(connection):
    return lambda version: feature_baselines.insert(
        connection, feature_baselines.baseline_bins(TRAINING_ROWS, ("wind", "seats"), version)
    )


def test_a_registered_version_has_its_baseline(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        version = _register(connection, _baseline(connection))
        shares = connection.execute(
            "select feature, sum(expected_share) from inference.feature_baselines where model_version = ? "
            "group by feature order by feature", [version]
        ).fetchall()
        nulls = connection.execute(
            "select expected_share from inference.feature_baselines where feature = 'wind' and bin = 0"
        ).fetchall()
    assert shares == [("seats", pytest.approx(1.0)), ("wind", pytest.approx(1.0))]  # every row in one bin
    assert nulls == [(0.25,)]  # the one NULL wind is a bin of its own


def test_a_baseline_that_fails_leaves_no_version(tmp_path):
    def broken(version):
        feature_baselines.insert(connection, feature_baselines.baseline_bins(TRAINING_ROWS, ("no_such_column",), version))

    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        _register(connection, _baseline(connection))
        with pytest.raises(KeyError, match="no_such_column"):
            _register(connection, broken)
        assert registry.versions(connection) == [1]
        assert connection.sql("select distinct model_version from inference.feature_baselines").fetchall() == [(1,)]


def test_a_registered_version_has_its_daily_counts_and_thresholds(tmp_path):
    days = pd.date_range("2013-01-01", periods=40).date
    rows = pd.DataFrame(
        {"scheduled_dep_date": list(days) * 2, "wind": [float(i % 7) for i in range(80)], "day_of_week": 1.0}
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        version = _register(
            connection, lambda v: feature_baselines.record(connection, rows, ("wind", "day_of_week"), v)
        )
        daily = connection.execute(
            "select feature, count(distinct day), sum(flights) from inference.feature_daily_bins "
            "where model_version = ? group by all", [version]
        ).fetchall()
        thresholds = connection.execute(
            "select feature, window_days, calibration_days, threshold > 0 from inference.feature_drift_thresholds"
        ).fetchall()
    # The calendar feature is neither counted nor given a threshold.
    assert daily == [("wind", 40, 80)]
    assert thresholds == [("wind", 28, 40 - 28, True)]
