"""When a scheduled training run has something new to learn.

A snapshot holds the labels known by the end of its cutoff day. Retraining is worth a run only
if labels arrived after the champion's cutoff: otherwise the next snapshot has the same rows
and the fit gives the same model, a run that costs minutes and changes nothing.
"""

import duckdb

from fti_assets.feature_views.declared import view_named
from fti_assets.feature_views.view import FEATURE_SCHEMA
from fti_assets.stateful import registry
from fti_assets.training_pipeline.snapshot import SCHEMA, end_of_local_day_utc


def why_not_retrain(connection: duckdb.DuckDBPyConnection) -> str | None:
    """Why a training run now would repeat the champion's (no labels arrived since its
    snapshot's cutoff), or None when there is something to learn (or no champion yet)."""
    version = registry.current_alias_version(connection, "champion")
    if version is None:
        return None
    champion = registry.get_version(connection, version)
    view = view_named(f"{champion.feature_view}_v{champion.feature_view_version}")
    cutoff = connection.execute(
        f"select cutoff from {SCHEMA}.snapshots where snapshot_id = ?", [champion.snapshot_id]
    ).fetchall()[0][0]
    spine = f"{FEATURE_SCHEMA}.{view.spine_relation}"
    latest = connection.sql(f"select max(scheduled_dep_date) from {spine}").fetchall()[0][0]
    arrived = connection.execute(
        f"select count(*) from {spine} where label_known_at > ? and label_known_at <= ?",
        [end_of_local_day_utc(cutoff), end_of_local_day_utc(latest)],
    ).fetchall()[0][0]
    if arrived:
        return None
    return (
        f"no labels arrived since the champion's snapshot (model version {version}, cutoff {cutoff}; "
        f"latest delivered day {latest}): a run now would refit the same model on the same rows"
    )
