"""Upgrade and rollback: point a system's champion alias (`champion` for the batch system,
`intraday_champion` for the intraday one) at a chosen model version, if the live features fit it.

A model version names its feature view; scoring builds features with that view. Moving
`champion` therefore moves the model and the feature version it reads together, and the
fingerprint check refuses a version whose features are no longer what it was trained on.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

import duckdb

from fti_assets.feature_views.compatibility import FeatureMismatch, check_fingerprint, compatible_versions
from fti_assets.stateful import registry


class PromotionRefused(RuntimeError):
    """The requested version does not exist, or the live features do not match it."""


@dataclasses.dataclass(frozen=True)
class Promotion:
    version: int
    previous: int | None
    feature_view: str
    reason: str
    alias: str = "champion"


def promote(
    connection: duckdb.DuckDBPyConnection, manifest: Mapping[str, Any], version: int, reason: str = ""
) -> Promotion:
    """Set the champion alias of `version`'s system to it (recorded in registry.alias_history)
    after checking it can score."""
    try:
        model = registry.get_version(connection, version)
    except LookupError:
        known = registry.versions(connection) or "none"
        raise PromotionRefused(
            f"no model version {version} in {registry.SCHEMA}.model_versions; registered: {known}"
        ) from None
    try:
        view = check_fingerprint(model, manifest)
    except (FeatureMismatch, LookupError) as mismatch:
        others = [v for v in compatible_versions(connection, manifest) if v != version]
        instead = (
            f"the live features match model version(s) {', '.join(map(str, others))}"
            if others else "no registered model version matches the live features: retrain"
        )
        raise PromotionRefused(f"model version {version} cannot be champion: {mismatch} ({instead})") from mismatch
    alias, _ = registry.aliases(view.system)
    previous = registry.current_alias_version(connection, alias)
    reason = reason or f"set by hand from version {previous}"
    registry.set_alias(connection, alias, version, reason)
    return Promotion(version, previous, f"{view.name} v{view.version}", reason, alias)
