"""Whether a registered model can read the live features: the check both pipelines share.

Inference refuses to score, and a rollout refuses to promote, a model version whose recorded
feature fingerprint differs from the live feature view's.
"""

from collections.abc import Mapping
from typing import Any

import duckdb

from fti_assets.feature_views.declared import view_named
from fti_assets.feature_views.view import FeatureView, changed_parts, fingerprint, fingerprint_parts
from fti_assets.stateful import registry
from fti_assets.stateful.registry import ModelVersion


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


def compatible_versions(connection: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any]) -> list[int]:
    """The registered model versions whose fingerprint the live features match."""
    compatible = []
    for version in registry.versions(connection):
        try:
            check_fingerprint(registry.get_version(connection, version), manifest)
        except (FeatureMismatch, LookupError):
            continue
        compatible.append(version)
    return compatible
