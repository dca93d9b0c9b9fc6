"""Training pipeline assets: snapshot -> model version (challenger) -> gate -> champion.

Thin wrappers: the work is in feature_view, snapshot, model, promotion and the registry.
Training reads the feature tables only; it never calls the feature pipeline.
"""

import base64
import dataclasses
import datetime as dt
import time
from pathlib import Path

import dagster as dg

from fti_assets import code_version, manifest
from fti_assets.feature_views.declared import VIEWS, view_named
from fti_assets.feature_views.view import FeatureView
from fti_assets.resources import WAREHOUSE_POOL, ModelStoreResource, WarehouseResource
from fti_assets.training_pipeline.config import ModelConfig, SnapshotConfig


def _feature_keys(view: FeatureView) -> list[dg.AssetKey]:
    return [dg.AssetKey(["features", r]) for r in view.relations]


# Every declared view's tables: a snapshot may read any of them (SnapshotConfig.feature_view).
FEATURE_KEYS = list(dict.fromkeys(k for view in VIEWS.values() for k in _feature_keys(view)))


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
    code_version=code_version.of_modules(
        "feature_views/view.py", "feature_views/declared.py", "training_pipeline/snapshot.py"
    ),
)
def training_snapshot(context: dg.AssetExecutionContext, config: SnapshotConfig, warehouse: WarehouseResource):
    """One row per labelled flight up to the cutoff, features as of its prediction time (immutable, content-named)."""
    from fti_assets.feature_views.view import fingerprint
    from fti_assets.training_pipeline import snapshot

    try:
        view = view_named(config.feature_view)
    except LookupError as unknown:
        raise dg.Failure(str(unknown)) from unknown
    dbt_manifest = manifest.load()
    if config.parquet:
        if not config.cutoff:
            raise dg.Failure("a snapshot read from Parquet needs the cutoff it was built for (SnapshotConfig.cutoff)")
        with warehouse.connect() as connection:
            try:
                rows = snapshot.parquet_rows_sql(connection, view, Path(config.parquet))
            except (FileNotFoundError, ValueError) as refused:
                raise dg.Failure(str(refused)) from refused
            cutoff = dt.date.fromisoformat(config.cutoff)
            live = fingerprint(view, dbt_manifest)
            built = snapshot.build_snapshot(connection, view, live, cutoff, rows_sql=rows)
            nulls = snapshot.null_rates(connection, built.table_name, view.features)
        return _snapshot_output(built, view, live, dbt_manifest, nulls)
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
        live = fingerprint(view, dbt_manifest)
        built = snapshot.build_snapshot(connection, view, live, cutoff, max_rows=config.max_rows or None)
        nulls = snapshot.null_rates(connection, built.table_name, view.features)
    return _snapshot_output(built, view, live, dbt_manifest, nulls)


def _snapshot_output(built, view: FeatureView, live: str, dbt_manifest: dict, nulls: dict[str, float]) -> dg.Output:
    from fti_assets.feature_views.view import fingerprint_parts

    return dg.Output(
        # The parts name what changed if the live features later stop matching this fingerprint.
        # The live fingerprint: equal rows reuse a snapshot first built by other (equivalent) code.
        {**dataclasses.asdict(built), "fingerprint": live, "fingerprint_parts": fingerprint_parts(view, dbt_manifest)},
        data_version=dg.DataVersion(built.snapshot_id),
        metadata={
            "table": built.table_name,
            "cutoff": str(built.cutoff),
            "dagster/row_count": built.rows,
            "time_range": f"{built.first_date} .. {built.last_date}",
            "label_rate": dg.MetadataValue.float(built.label_rate or 0.0),
            "positives": built.positives,
            "fingerprint": live,
            "feature_view": f"{view.name} v{view.version}",
            "feature_null_rates": dg.MetadataValue.md(
                "| feature | null rate |\n|---|---|\n" + "\n".join(f"| {c} | {r:.3f} |" for c, r in nulls.items())
            ),
        },
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    group_name="training",
    code_version=code_version.of_modules(
        "training_pipeline/model.py", "training_pipeline/leakage.py", "training_pipeline/champion.py",
        "feature_views/view.py", "feature_views/declared.py", "stateful/feature_baselines.py",
        "stateful/segment_drift.py", "constants.py",
    ),
)
def flight_disruption_model(
    context: dg.AssetExecutionContext,
    config: ModelConfig,
    training_snapshot: dict,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
) -> dg.Output[int]:
    """A registered model version (alias `challenger`, or its system's: `intraday_challenger`)
    fitted on the snapshot's train period, evaluated on its test period."""
    from fti_assets.stateful import feature_baselines, registry, segment_drift
    from fti_assets.stateful import model_store as store
    from fti_assets.training_pipeline import champion, leakage, model, snapshot

    # The snapshot's own view: the model reads exactly the features its snapshot was built with.
    view = view_named(f"{training_snapshot['feature_view']}_v{training_snapshot['feature_view_version']}")
    training = config.training_config()
    champion_alias, challenger_alias = registry.aliases(view.system)
    code = context.assets_def.code_versions_by_key[context.asset_key]
    with warehouse.connect() as connection:
        unjudged = registry.unjudged_version(connection, training_snapshot["snapshot_id"], config.model_dump(), code)
        if unjudged is not None:
            if not registry.was_alias(connection, challenger_alias, unjudged):  # killed before the alias moved
                registry.set_alias(
                    connection, challenger_alias, unjudged, f"trained on snapshot {training_snapshot['snapshot_id']}"
                )
            context.log.info(f"model version {unjudged}, fitted on this snapshot with this configuration by a run "
                             "that ended before its promotion gate, goes to the gate instead of a new fit")
            return dg.Output(unjudged, metadata={"version": unjudged, "snapshot_id": training_snapshot["snapshot_id"],
                                                 "resumed": "fitted by a run that ended before the gate"})
        frame = snapshot.read_snapshot(connection, training_snapshot["table_name"], view)
    # No warehouse connection while the model is fitted: DuckDB's memory goes back to the fit,
    # and the warehouse lock to other runs (the snapshot is immutable).
    try:
        univariate = leakage.audit(frame, view, training.max_single_feature_roc_auc)
    except leakage.LeakageFound as leak:
        raise dg.Failure(f"snapshot {training_snapshot['snapshot_id']}: {leak}") from leak
    split = model.time_split(frame, training)
    started = time.perf_counter()
    pipeline = model.fit_pipeline(split.train, view, training)
    fit_seconds = time.perf_counter() - started
    scores = model.period_scores(pipeline, split, view)
    evaluation = model.evaluate(split, view, scores)
    with warehouse.connect() as connection:
        evaluation["champion"] = champion.champion_on(
            connection, model_store.resolved_path, manifest.load(), split.test, champion_alias
        )
        sha, name = store.save(pipeline, model_store.resolved_path)

        def record_drift_baselines(version: int) -> None:
            """The drift baselines (the snapshot's distributions) exist exactly when the version does."""
            feature_baselines.record(connection, frame, view.numeric_features, version)
            segment_drift.record(connection, frame, view.groups, view.numeric_features, version)

        inputs = _latest_versions(
            context.instance, [context.asset_key_for_input("training_snapshot"), *_feature_keys(view)]
        )
        inputs["code_version"] = code
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
            with_version=record_drift_baselines,
        )
        registry.set_alias(
            connection, challenger_alias, version, f"trained on snapshot {training_snapshot['snapshot_id']}"
        )
    pngs = model.plots(
        model.labels(split.test, view), scores["test"],
        model.baseline_scores(split.test, evaluation["train_prevalence"]),
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
            "leakage_audit": dg.MetadataValue.md(
                "| column alone | ROC AUC |\n|---|---|\n"
                + "\n".join(f"| {c} | {a:.3f} |" for c, a in sorted(univariate.items(), key=lambda kv: -kv[1])[:10])
            ),
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
    if champion is None:
        return promotion_decision(metrics, None)
    why = f"champion version {champion['version']} {champion['basis']}"
    return promotion_decision(metrics, champion["roc_auc"], no_champion=why)


@dg.asset_check(asset=flight_disruption_model)
def check_challenger_passes_promotion_gate(flight_disruption_model: int, warehouse: WarehouseResource):
    """Whether the challenger beats the champion on the same flights and serves every carrier and
    origin within the margin. A loss is a warning, not a failed run: the champion is kept."""
    decision = _decision(warehouse, flight_disruption_model)
    return dg.AssetCheckResult(
        passed=decision.promote,
        severity=dg.AssetCheckSeverity.WARN,
        description=decision.message,
        metadata={
            "version": flight_disruption_model,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
        },
    )


@dg.asset(
    pool=WAREHOUSE_POOL,
    group_name="training",
    code_version=code_version.of_modules("training_pipeline/promotion.py", "stateful/registry.py"),
)
def champion_promotion(flight_disruption_model: int, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The gate's verdict on the challenger (registry.gate_decisions): `champion` moves to a
    challenger that passes (history in registry.alias_history); one that loses is recorded as
    rejected, with the reason, and the champion is kept. Either way the run succeeds."""
    from fti_assets.stateful import registry

    decision = _decision(warehouse, flight_disruption_model)
    with warehouse.connect() as connection:
        row = registry.get_version(connection, flight_disruption_model)
        alias, _ = registry.aliases(view_named(f"{row.feature_view}_v{row.feature_view_version}").system)
        previous = registry.record_decision(
            connection, flight_disruption_model, decision.promote, decision.message, alias=alias
        )
        champion = registry.current_alias_version(connection, alias)
    outcome = "promoted" if decision.promote else f"rejected, champion kept (version {champion})"
    return dg.MaterializeResult(
        metadata={
            "alias": alias, "champion": champion or 0, "previous": previous or 0,
            "challenger": flight_disruption_model,
            "outcome": outcome, "reason": decision.message,
        }
    )


training_assets = [training_snapshot, flight_disruption_model, champion_promotion]
training_checks = [check_challenger_passes_promotion_gate]
