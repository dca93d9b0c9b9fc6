"""Batch scoring: the live feature view's rows for some days, scored by one registered model.

Feature rows come from the same `point_in_time_sql` that built the model's training snapshot,
and only after the live view's fingerprint matches the one the model was trained with.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from fti_assets.feature_views.declared import view_named
from fti_assets.stateful.registry import ModelVersion
from fti_assets.feature_views.view import (
    FeatureView, changed_parts, fingerprint, fingerprint_parts, model_inputs, point_in_time_sql,
)

BASELINE_BINS = 10


class FeatureMismatch(RuntimeError):
    """The live features are not the ones the model was trained with."""


def check_fingerprint(model: ModelVersion, manifest: Mapping[str, Any]) -> FeatureView:
    """The model's feature view, after checking that the live features still match it."""
    view = view_named(f"{model.feature_view}_v{model.feature_view_version}")
    try:
        live = fingerprint(view, manifest)
    except KeyError as missing:
        raise FeatureMismatch(
            f"model version {model.version} reads feature view {view.name} v{view.version}, "
            f"but a model it needs is no longer built: {missing}"
        ) from missing
    if live != model.fingerprint:
        recorded = model.input_versions.get("fingerprint_parts")
        changed = (
            f"changed since: {', '.join(changed_parts(recorded, fingerprint_parts(view, manifest)))}"
            if recorded else
            f"a feature group it reads ({', '.join(g.relation for g in view.groups)} or "
            f"{view.spine_relation}) changed its contract, SQL or macros since"
        )
        raise FeatureMismatch(
            f"model version {model.version} was trained on feature view {view.name} v{view.version} "
            f"with fingerprint {model.fingerprint[:12]}, but the live features have {live[:12]}: "
            f"{changed}. Retrain, or roll back to a model version trained on the live features "
            f"(`fti promote --version N`)."
        )
    return view


def day_spine_sql(view: FeatureView, start: dt.date, end: dt.date) -> str:
    """The flights scheduled on start..end, without their labels: inference never reads them."""
    columns = dict.fromkeys([*view.keys, *view.spine_features, view.prediction_time, "scheduled_dep_at", "carrier", "origin", "dest"])
    for group in view.groups:
        columns.update(dict.fromkeys(s for s, _ in group.join_keys))
    return (
        f"select {', '.join(columns)} from features.{view.spine_relation} "
        f"where scheduled_dep_date between date '{start}' and date '{end}'"
    )


def feature_rows(connection: duckdb.DuckDBPyConnection, view: FeatureView, start: dt.date, end: dt.date) -> pd.DataFrame:
    spine = day_spine_sql(view, start, end)
    rows = connection.sql(
        f"""
        with features as ({point_in_time_sql(view, spine)})
        select features.*, spine.scheduled_dep_at
        from features join ({spine}) as spine using (flight_id)
        order by flight_id
        """
    ).df()
    rows[list(view.numeric_features)] = rows[list(view.numeric_features)].astype("float64")
    return rows


@dataclasses.dataclass(frozen=True)
class Scored:
    predictions: pd.DataFrame
    features: pd.DataFrame


def score(
    rows: pd.DataFrame,
    pipeline: Any,
    model: ModelVersion,
    view: FeatureView,
    threshold: float,
    scored_at: dt.datetime,
    run_id: str | None,
) -> Scored:
    """Predictions with their lineage, and the numeric inputs they saw (long format)."""
    # The same conversion training used, so both feed the pipeline identical frames.
    probability = pipeline.predict_proba(model_inputs(rows, view))[:, 1] if len(rows) else np.array([])
    predictions = pd.DataFrame(
        {
            "flight_id": rows["flight_id"],
            "scheduled_dep_date": rows["scheduled_dep_date"],
            "scheduled_dep_at": rows["scheduled_dep_at"],
            "prediction_at": rows[view.prediction_time],
            "carrier": rows["carrier"],
            "origin": rows["origin"],
            "dest": rows["dest"],
            "probability": probability.astype("float64"),
            "predicted_disrupted": probability >= threshold,
            "threshold": threshold,
            "model_version": model.version,
            "feature_view": view.name,
            "feature_view_version": view.version,
            "fingerprint": model.fingerprint,
            "snapshot_id": model.snapshot_id,
            "scored_at": scored_at,
            "dagster_run_id": run_id,
        }
    )
    features = rows.melt(
        id_vars=["flight_id", "scheduled_dep_date"],
        value_vars=list(view.numeric_features),
        var_name="feature",
        value_name="value",
    ).assign(model_version=model.version)
    return Scored(predictions, features)


def baseline_bins(training_rows: pd.DataFrame, view: FeatureView, model_version: int) -> pd.DataFrame:
    """Decile bins of each numeric feature over the training rows; a NULL is a bin of its own.

    Population stability compares each scored day with these shares (monitoring.mon_feature_drift).
    """
    frames = []
    for feature in view.numeric_features:
        values = training_rows[feature].astype("float64")
        present = values.dropna()
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BASELINE_BINS + 1))) if len(present) else np.array([])
        lower = np.concatenate([[-np.inf], edges[1:-1]]) if len(edges) > 1 else np.array([-np.inf])
        upper = np.concatenate([edges[1:-1], [np.inf]]) if len(edges) > 1 else np.array([np.inf])
        counts = [((present >= lo) & (present < hi)).sum() for lo, hi in zip(lower, upper)]
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
