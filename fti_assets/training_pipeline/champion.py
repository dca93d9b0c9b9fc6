"""The champion, scored on the challenger's evaluation flights through its own feature view.

A gate that compares two models on different flights compares the days, not the models. The
challenger's test flights are re-read through the champion's view (`point_in_time_sql`, the
same join scoring uses), so a v1 champion and a v2 challenger are judged on the same rows and
the same labels, each with the features it was trained to read.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from fti_assets.feature_views import on_demand
from fti_assets.feature_views.compatibility import FeatureMismatch, check_fingerprint
from fti_assets.feature_views.view import FEATURE_SCHEMA, FeatureView, point_in_time_sql
from fti_assets.stateful import registry
from fti_assets.training_pipeline import model

KEYS_RELATION = "challenger_evaluation_keys"


def rows_through_view(connection: duckdb.DuckDBPyConnection, view: FeatureView, flights: pd.DataFrame) -> pd.DataFrame:
    """The given flights (the view's key columns) as `view` reads them, in the same order."""
    keys = list(view.keys)
    # The champion's view may call on-demand features the challenger's does not.
    on_demand.register(connection, view.on_demand)
    connection.register(KEYS_RELATION, flights[keys].reset_index(drop=True).assign(__order=lambda f: range(len(f))))
    try:
        spine = (
            f"select spine.*, k.__order from {FEATURE_SCHEMA}.{view.spine_relation} as spine "
            f"join {KEYS_RELATION} as k using ({', '.join(keys)})"
        )
        frame = connection.sql(
            f"select * from ({point_in_time_sql(view, spine, carried=('__order',))}) order by __order"
        ).df()
    finally:
        connection.unregister(KEYS_RELATION)
    if len(frame) != len(flights):
        raise LookupError(
            f"{len(flights) - len(frame)} of the challenger's {len(flights)} evaluation flights are missing "
            f"from features.{view.spine_relation}: the champion cannot be judged on the same rows"
        )
    return frame.drop(columns="__order")


def champion_on(
    connection: duckdb.DuckDBPyConnection,
    store: Path,
    manifest: Mapping[str, Any],
    evaluation_rows: pd.DataFrame,
    alias: str = "champion",
) -> dict | None:
    """The current champion's (`alias`) metrics on `evaluation_rows` (the challenger's test period),
    or None without a champion. A champion whose own features no longer match the live code cannot
    score anything (scoring refuses it too): its `roc_auc` is then None and the reason is given."""
    version = registry.current_alias_version(connection, alias)
    if version is None:
        return None
    row = registry.get_version(connection, version)
    try:
        view = check_fingerprint(row, manifest)
    except (FeatureMismatch, LookupError) as mismatch:
        return {"version": version, "roc_auc": None, "basis": f"cannot score the live features: {mismatch}"}
    champion, _ = registry.load_model(connection, store, version)
    frame = rows_through_view(connection, view, evaluation_rows)
    scores = model.predict_proba(champion, frame, view)
    return {
        **model.metrics(model.labels(frame, view), scores),
        "version": version,
        "feature_view": f"{view.name} v{view.version}",
        "basis": f"the challenger's {len(frame)} test flights, through {view.name} v{view.version}",
    }

