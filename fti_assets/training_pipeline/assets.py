"""Training pipeline assets: snapshot -> model version (challenger) -> gate -> champion.

Thin wrappers: the work is in feature_view, snapshot, model, promotion and the registry.
Training reads the feature tables only; it never calls the feature pipeline.
"""

import base64
import dataclasses
import datetime as dt
import hashlib
import time
from pathlib import Path

import dagster as dg

from fti_assets import manifest
from fti_assets.feature_views.declared import VIEWS, view_named
from fti_assets.feature_views.view import FeatureView
from fti_assets.resources import WAREHOUSE_POOL, ModelStoreResource, WarehouseResource
from fti_assets.training_pipeline.config import ModelConfig, SnapshotConfig


def _feature_keys(view: FeatureView) -> list[dg.AssetKey]:
    return [dg.AssetKey(["features", r]) for r in (view.spine_relation, *(g.relation for g in view.groups))]


# Every declared view's tables: a snapshot may read any of them (SnapshotConfig.feature_view).
FEATURE_KEYS = list(dict.fromkeys(k for view in VIEWS.values() for k in _feature_keys(view)))
_PACKAGE = Path(__file__).parent.parent


def _code_version(*files: str) -> str:
    """Hash of the logic modules an asset runs: editing them marks the asset stale in the UI."""
    digest = hashlib.sha256()
    for name in files:
        digest.update((_PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]


def _latest_versions(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict[str, dict]:
    """Dagster data and code versions of each input's latest materialization."""
    versions = {}
    for key in keys:
        event = instance.get_latest_materialization_event(key)
        tags = event.asset_materialization.tags if event and event.asset_materialization else {}
        versions[key.to_user_string()] = {
            "data_version": (tags or {}).get("dagster/data_version"),
            "code_version": (tags or {}).get("dagster/code_version"),
        }
    return versions


def _image(png: bytes, title: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})")


@dg.asset(
    deps=FEATURE_KEYS,
    pool=WAREHOUSE_POOL,
    group_name="training",
    code_version=_code_version("feature_views/view.py", "feature_views/declared.py", "training_pipeline/snapshot.py"),
)
def training_snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: WarehouseResource):
    """One row per labelled flight up to the cutoff, features as of its prediction time (immutable, content-named)."""
    from fti_assets.feature_views.view import fingerprint, fingerprint_parts
    from fti_assets.training_pipeline import snapshot

    try:
        view = view_named(config.feature_view)
    except LookupError as unknown:
        raise dg.Failure(str(unknown)) from unknown
    dbt_manifest = manifest.load()
    with warehouse.connect() as connection:
        if not connection.execute(
            "select 1 from information_schema.tables where table_schema = 'features' and table_name = ?",
            [view.spine_relation],
        ).fetchall():
            raise dg.Failure(
                f"features.{view.spine_relation} does not exist in {warehouse.resolved_path}: "
                "run the feature_job first (`fti main` runs every pipeline)"
            )
        cutoff = (
            dt.date.fromisoformat(config.cutoff) if config.cutoff
            else connection.sql(f"select max(scheduled_dep_date) from features.{view.spine_relation}").fetchall()[0][0]
        )
        if cutoff is None:
            raise dg.Failure(f"features.{view.spine_relation} is empty: run the feature_job first")
        built = snapshot.build_snapshot(connection, view, fingerprint(view, dbt_manifest), cutoff)
        nulls = snapshot.null_rates(connection, built.table_name, view.features)
    return dg.Output(
        # The parts name what changed if the live features later stop matching this fingerprint.
        {**dataclasses.asdict(built), "fingerprint_parts": fingerprint_parts(view, dbt_manifest)},
        data_version=dg.DataVersion(built.snapshot_id),
        metadata={
            "table": built.table_name,
            "cutoff": str(built.cutoff),
            "dagster/row_count": built.rows,
            "time_range": f"{built.first_date} .. {built.last_date}",
            "label_rate": dg.MetadataValue.float(built.label_rate or 0.0),
            "positives": built.positives,
            "fingerprint": built.fingerprint,
            "feature_view": f"{view.name} v{view.version}",
            "feature_null_rates": dg.MetadataValue.md(
                "| feature | null rate |\n|---|---|\n" + "\n".join(f"| {c} | {r:.3f} |" for c, r in nulls.items())
            ),
        },
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    group_name="training",
    code_version=_code_version("training_pipeline/model.py", "feature_views/view.py", "feature_views/declared.py"),
)
def flight_disruption_model(
    context: dg.AssetExecutionContext,
    config: ModelConfig,
    training_snapshot: dict,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
) -> dg.Output[int]:
    """A registered model version (alias `challenger`) fitted on the snapshot's train period,
    evaluated on its test period."""
    from fti_assets.stateful import feature_baselines, registry
    from fti_assets.stateful import model_store as store
    from fti_assets.training_pipeline import champion, model, snapshot

    # The snapshot's own view: the model reads exactly the features its snapshot was built with.
    view = view_named(f"{training_snapshot['feature_view']}_v{training_snapshot['feature_view_version']}")
    training = config.training_config()
    with warehouse.connect() as connection:
        frame = snapshot.read_snapshot(connection, training_snapshot["table_name"], view)
        split = model.time_split(frame, training)
        started = time.perf_counter()
        pipeline = model.fit_pipeline(split.train, view, training)
        fit_seconds = time.perf_counter() - started
        evaluation = model.evaluate(pipeline, split, view)
        evaluation["champion"] = champion.champion_on(
            connection, model_store.resolved_path, split, training_snapshot["fingerprint"], view
        )
        sha, name = store.save(pipeline, model_store.resolved_path)
        inputs = _latest_versions(
            context.instance, [context.asset_key_for_input("training_snapshot"), *_feature_keys(view)]
        )
        inputs["code_version"] = context.assets_def.code_versions_by_key[context.asset_key]
        inputs["fingerprint_parts"] = training_snapshot.get("fingerprint_parts", {})
        version = registry.register_version(
            connection,
            feature_view=view.name,
            feature_view_version=view.version,
            fingerprint=training_snapshot["fingerprint"],
            snapshot_id=training_snapshot["snapshot_id"],
            input_versions=inputs,
            hyperparameters=config.model_dump(),
            metrics={**evaluation, "fit_seconds": fit_seconds},
            artifact_sha256=sha,
            artifact_path=name,
            # The drift baseline (the snapshot's feature distribution) exists exactly when the version does.
            with_version=lambda version: feature_baselines.insert(
                connection, feature_baselines.baseline_bins(frame, view.numeric_features, version)
            ),
        )
        registry.set_alias(connection, "challenger", version, f"trained on snapshot {training_snapshot['snapshot_id']}")
    y, test = model.labels(split.test, view), split.test
    pngs = model.plots(
        y, model.predict_proba(pipeline, test, view), model.baseline_scores(test, evaluation["train_prevalence"])
    )
    test_metrics = evaluation["test"]["model"]
    return dg.Output(
        version,
        metadata={
            "version": version,
            "snapshot_id": training_snapshot["snapshot_id"],
            "feature_view": f"{view.name} v{view.version}",
            "artifact_sha256": sha,
            "periods": dg.MetadataValue.json(evaluation["periods"]),
            "test_roc_auc": dg.MetadataValue.float(test_metrics["roc_auc"]),
            "baseline_test_roc_auc": dg.MetadataValue.float(evaluation["test"]["baseline"]["roc_auc"]),
            "fit_seconds": dg.MetadataValue.float(fit_seconds),
            "metrics": dg.MetadataValue.md(model.metrics_markdown(evaluation)),
            "calibration": _image(pngs["calibration"], "calibration"),
            "roc": _image(pngs["roc"], "ROC"),
        },
    )


def _decision(warehouse: WarehouseResource, version: int):
    from fti_assets.stateful import registry
    from fti_assets.training_pipeline.promotion import promotion_decision

    with warehouse.connect(read_only=True) as connection:
        metrics = registry.get_version(connection, version).metrics
    champion = metrics.get("champion")
    return promotion_decision(metrics, champion["roc_auc"] if champion else None)


@dg.asset_check(asset=flight_disruption_model, blocking=True)
def check_challenger_passes_promotion_gate(flight_disruption_model: int, warehouse: WarehouseResource):
    """Blocks promotion unless the challenger beats the champion and serves every carrier and
    origin within the margin."""
    decision = _decision(warehouse, flight_disruption_model)
    return dg.AssetCheckResult(
        passed=decision.promote,
        description=decision.message,
        metadata={
            "version": flight_disruption_model,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
        },
    )


@dg.asset(pool=WAREHOUSE_POOL, group_name="training")
def champion_promotion(flight_disruption_model: int, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The `champion` alias, moved to the challenger that passed the promotion gate (history in
    registry.alias_history)."""
    from fti_assets.stateful import registry

    decision = _decision(warehouse, flight_disruption_model)
    if not decision.promote:
        raise dg.Failure(f"model version {flight_disruption_model} not promoted: {decision.message}")
    with warehouse.connect() as connection:
        previous = registry.current_alias_version(connection, "champion")
        registry.set_alias(connection, "champion", flight_disruption_model, decision.message)
    return dg.MaterializeResult(
        metadata={"champion": flight_disruption_model, "previous": previous or 0, "reason": decision.message}
    )


training_assets = [training_snapshot, flight_disruption_model, champion_promotion]
training_checks = [check_challenger_passes_promotion_gate]
