"""The current champion, judged on a challenger's test period: the promotion gate's other side."""

from pathlib import Path

import duckdb

from fti_assets.feature_views.view import FeatureView
from fti_assets.stateful import registry
from fti_assets.training_pipeline import model


def champion_on(
    connection: duckdb.DuckDBPyConnection, store: Path, split: model.Split, fingerprint: str, view: FeatureView
) -> dict | None:
    """The current champion's test ROC AUC on this challenger's test period when it reads the
    same features (a fair comparison); else the figure recorded at its own training."""
    version = registry.current_alias_version(connection, "champion")
    if version is None:
        return None
    row = registry.get_version(connection, version)
    if row.fingerprint != fingerprint:
        return {"version": version, "roc_auc": row.metrics["test"]["model"]["roc_auc"], "basis": "its own test period"}
    champion, _ = registry.load_model(connection, store, version)
    scores = model.predict_proba(champion, split.test, view)
    return {
        "version": version,
        "roc_auc": model.metrics(model.labels(split.test, view), scores)["roc_auc"],
        "basis": "the challenger's test period",
    }
