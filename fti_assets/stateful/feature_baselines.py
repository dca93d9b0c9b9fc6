"""Drift baselines: per model version, decile bins of each numeric feature over its training rows.

Written with the model version at registration, in the same transaction, so every registered
version has its baseline; monitoring.mon_feature_drift compares each scored day with it.
"""

import duckdb
import numpy as np
import pandas as pd

SCHEMA = "inference"
TABLE = f"{SCHEMA}.feature_baselines"
BINS = 10

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


def insert(connection: duckdb.DuckDBPyConnection, bins: pd.DataFrame) -> None:
    """Add a version's bins; the caller's transaction (the registration) makes it all or nothing."""
    ensure_schema(connection)
    connection.register("new_bins", bins)
    try:
        connection.sql(f"insert into {TABLE} by name select * from new_bins")
    finally:
        connection.unregister("new_bins")
