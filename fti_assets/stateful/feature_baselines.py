"""Drift baselines: per model version, decile bins of each numeric feature over its training rows,
each training day's count per bin, and each monitored feature's calibrated alarm threshold.

Written with the model version at registration, in the same transaction, so every registered
version has its baseline. monitoring.mon_feature_drift compares each scored day with the
DRIFT_WINDOW_DAYS days before it (training days, then scored days) over these bins; the
threshold is that same trailing PSI's high quantile over the training days, so a feature that
moves a lot from day to day (weather) is not held to the bar of one that barely moves (distance).
"""

import duckdb
import numpy as np
import pandas as pd

from fti_assets.constants import (
    CALENDAR_FEATURES,
    DRIFT_THRESHOLD_MARGIN,
    DRIFT_THRESHOLD_QUANTILE,
    DRIFT_WINDOW_DAYS,
)

SCHEMA = "inference"
TABLE = f"{SCHEMA}.feature_baselines"
DAILY_TABLE = f"{SCHEMA}.feature_daily_bins"
THRESHOLDS_TABLE = f"{SCHEMA}.feature_drift_thresholds"
BINS = 10
# Empty bins count as this share, so the PSI's log stays finite (as in mon_feature_drift).
MIN_SHARE = 1e-4

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {TABLE} (
        model_version integer not null,
        feature varchar not null,
        bin integer not null,
        lower_bound double,
        upper_bound double,
        expected_share double not null
    )""",
    f"""create table if not exists {DAILY_TABLE} (
        model_version integer not null,
        day date not null,
        feature varchar not null,
        bin integer not null,
        flights bigint not null
    )""",
    f"""create table if not exists {THRESHOLDS_TABLE} (
        model_version integer not null,
        feature varchar not null,
        window_days integer not null,
        threshold double,
        calibration_days integer not null
    )""",
)


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.sql(statement)


def baseline_bins(training_rows: pd.DataFrame, features: tuple[str, ...], model_version: int) -> pd.DataFrame:
    """Decile bins of each feature over the training rows; a NULL is a bin of its own."""
    frames = []
    for feature in features:
        values = training_rows[feature].astype("float64")
        present = values.dropna()
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1))) if len(present) else np.array([])
        lower = np.concatenate([[-np.inf], edges[1:-1]]) if len(edges) > 1 else np.array([-np.inf])
        upper = np.concatenate([edges[1:-1], [np.inf]]) if len(edges) > 1 else np.array([np.inf])
        counts = [((present >= lo) & (present < hi)).sum() for lo, hi in zip(lower, upper, strict=True)]
        frames.append(
            pd.DataFrame(
                {
                    "model_version": model_version,
                    "feature": feature,
                    "bin": [0, *range(1, len(lower) + 1)],
                    "lower_bound": [np.nan, *lower],
                    "upper_bound": [np.nan, *upper],
                    "expected_share": [values.isna().sum(), *counts],
                }
            )
        )
    bins = pd.concat(frames, ignore_index=True)
    bins["expected_share"] = bins["expected_share"] / len(training_rows)
    return bins


def monitored(features: tuple[str, ...]) -> tuple[str, ...]:
    """The features drift is measured on: all but the calendar ones."""
    return tuple(f for f in features if f not in CALENDAR_FEATURES)


def assign_bins(values: pd.Series, bins: pd.DataFrame) -> np.ndarray:
    """Each value's bin among one feature's `baseline_bins` rows: 0 for NULL, else the bin whose
    [lower, upper) holds it."""
    inner = np.sort(bins.loc[bins["bin"] > 1, "lower_bound"].to_numpy())
    numbers = values.astype("float64").to_numpy()
    assigned = np.searchsorted(inner, numbers, side="right") + 1
    return np.where(np.isnan(numbers), 0, assigned)


def daily_bins(rows: pd.DataFrame, bins: pd.DataFrame, day_column: str = "scheduled_dep_date") -> pd.DataFrame:
    """Flights per day, feature and bin (bins with no flight left out), for every feature in `bins`."""
    frames = []
    # Each row's day numbered once (in day order), and each (day, bin) counted as one number:
    # per feature, grouping a million rows by day again cost most of a training's baselines.
    day_codes, days = pd.factorize(pd.to_datetime(rows[day_column]), sort=True)
    dated = day_codes >= 0
    for (version, feature), feature_bins in bins.groupby(["model_version", "feature"], sort=False):
        width = len(feature_bins)  # bins 0..n
        cells = day_codes[dated] * width + assign_bins(rows[feature], feature_bins)[dated]
        flights = np.bincount(cells, minlength=len(days) * width)
        counted = np.flatnonzero(flights)
        counts = pd.DataFrame(
            {"day": days[counted // width].date, "bin": counted % width, "flights": flights[counted]}
        )
        frames.append(counts.assign(model_version=version, feature=feature))
    columns = ["model_version", "day", "feature", "bin", "flights"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    a = np.maximum(actual / actual.sum(), MIN_SHARE)
    e = np.maximum(expected / expected.sum(), MIN_SHARE)
    return float(np.sum((a - e) * np.log(a / e)))


def trailing_psi(daily: pd.DataFrame, window_days: int = DRIFT_WINDOW_DAYS) -> pd.DataFrame:
    """Per feature, each day's PSI against the `window_days` calendar days before it, for days
    whose window starts on or after the first day in `daily` (a full window of history)."""
    rows = []
    for feature, counts in daily.groupby("feature", sort=False):
        table = counts.pivot_table(index="day", columns="bin", values="flights", aggfunc="sum", fill_value=0)
        table.index = pd.to_datetime(table.index)
        table = table.reindex(pd.date_range(table.index.min(), table.index.max()), fill_value=0)
        values = table.to_numpy(dtype="float64")
        for i in range(window_days, len(table)):
            reference = values[i - window_days : i].sum(axis=0)
            if values[i].sum() and reference.sum():
                rows.append((table.index[i].date(), feature, psi(values[i], reference)))
    return pd.DataFrame(rows, columns=["day", "feature", "psi"])


def thresholds(
    daily: pd.DataFrame,
    features: tuple[str, ...],
    model_version: int,
    window_days: int = DRIFT_WINDOW_DAYS,
    quantile: float = DRIFT_THRESHOLD_QUANTILE,
    margin: float = DRIFT_THRESHOLD_MARGIN,
) -> pd.DataFrame:
    """Per feature, the `quantile` of its trailing PSI over the training days, times `margin`;
    NULL when the training period has no day with a full window before it."""
    calibration = trailing_psi(daily, window_days)
    rows = []
    for feature in features:
        values = calibration.loc[calibration["feature"] == feature, "psi"].to_numpy()
        threshold = float(np.quantile(values, quantile)) * margin if len(values) else None
        rows.append((model_version, feature, window_days, threshold, len(values)))
    return pd.DataFrame(rows, columns=["model_version", "feature", "window_days", "threshold", "calibration_days"])


def record(
    connection: duckdb.DuckDBPyConnection, training_rows: pd.DataFrame, features: tuple[str, ...], model_version: int
) -> None:
    """Store a version's bins, its training days' bin counts and its thresholds; the caller's
    transaction (the registration) makes it all or nothing."""
    bins = baseline_bins(training_rows, features, model_version)
    watched = monitored(features)
    daily = daily_bins(training_rows, bins[bins["feature"].isin(watched)])
    insert(connection, bins)
    _insert(connection, DAILY_TABLE, daily)
    _insert(connection, THRESHOLDS_TABLE, thresholds(daily, watched, model_version))


def insert(connection: duckdb.DuckDBPyConnection, bins: pd.DataFrame) -> None:
    """Add a version's bins; the caller's transaction (the registration) makes it all or nothing."""
    _insert(connection, TABLE, bins)


def _insert(connection: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame) -> None:
    ensure_schema(connection)
    connection.register("new_rows", rows)
    try:
        connection.sql(f"insert into {table} by name select * from new_rows")
    finally:
        connection.unregister("new_rows")
