"""Inference pipeline assets: daily batch predictions from the champion, with blocking checks."""

import datetime as dt
import time

import dagster as dg

from fti_assets import code_version, manifest
from fti_assets.constants import PREDICTION_THRESHOLD
from fti_assets.feature_views.declared import VIEWS
from fti_assets.partitions import partition_dates, replay_days
from fti_assets.resources import WAREHOUSE_POOL, ModelStoreResource, WarehouseResource

COVERAGE_CHECK = "check_predictions_cover_schedule"
PROBABILITY_CHECK = "check_probabilities_in_unit_interval"
FEATURES_CHECK = "check_champion_matches_live_features"
FEATURE_KEYS = list(dict.fromkeys(dg.AssetKey(["features", r]) for view in VIEWS.values() for r in view.relations))


class ScoringConfig(dg.Config):
    """`model`: an alias or a version number. `threshold`: the probability at or above which a
    flight is predicted disrupted (constants.PREDICTION_THRESHOLD says why)."""

    model: str = "champion"
    threshold: float = PREDICTION_THRESHOLD


@dg.asset(
    key_prefix="inference",
    group_name="inference",
    partitions_def=replay_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    # Every table a declared view reads: the UI shows scoring stale when any feature group changes.
    deps=[*FEATURE_KEYS, dg.AssetKey("champion_promotion")],
    code_version=code_version.of_modules(
        "inference_pipeline/scoring.py", "inference_pipeline/predictions_table.py",
        "feature_views/view.py", "feature_views/declared.py", "feature_views/fast_model.py",
    ),
    check_specs=[
        dg.AssetCheckSpec(FEATURES_CHECK, asset=dg.AssetKey(["inference", "batch_predictions"]), blocking=True,
                          description="The model's recorded feature fingerprint equals the live feature view's; "
                                      "evaluated before scoring, which it stops when they differ."),
        dg.AssetCheckSpec(COVERAGE_CHECK, asset=dg.AssetKey(["inference", "batch_predictions"]), blocking=True,
                          description="Every flight scheduled on the day is scored exactly once by the model."),
        dg.AssetCheckSpec(PROBABILITY_CHECK, asset=dg.AssetKey(["inference", "batch_predictions"]), blocking=True,
                          description="Every probability is a number in [0, 1]."),
    ],
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    config: ScoringConfig,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
):
    """One row per scheduled flight per model version in inference.predictions, scored at the start of its day."""
    from fti_assets.feature_views.compatibility import FeatureMismatch, check_fingerprint
    from fti_assets.inference_pipeline import predictions_table, scoring
    from fti_assets.stateful import registry

    start, end = partition_dates(context)
    with warehouse.connect() as connection:
        try:
            model = registry.resolve(connection, config.model)
        except LookupError as problem:
            raise dg.Failure(str(problem)) from problem
        try:
            # The model's own declared view: after a rollback, the feature version it needs. The
            # manifest is the code as it is now: what the live features are built with.
            view = check_fingerprint(model, manifest.load())
        except FeatureMismatch as mismatch:
            yield dg.AssetCheckResult(
                check_name=FEATURES_CHECK, passed=False, description=str(mismatch),
                metadata={"model_version": model.version, "model_fingerprint": model.fingerprint},
            )
            raise dg.Failure(str(mismatch)) from mismatch
        pipeline, model = registry.load_model(connection, model_store.resolved_path, model.version)
        started = time.perf_counter()
        scored = scoring.score_window(
            connection, pipeline, model, view, start, end, config.threshold,
            scored_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), run_id=context.run.run_id,
        )
        scoring_seconds = time.perf_counter() - started
        coverage = predictions_table.coverage_problems(connection, view.spine_relation, start, end, model.version)
        probabilities = predictions_table.probability_problems(connection, start, end, model.version)

    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": scored.flights,
            "model_version": model.version,
            "fingerprint": model.fingerprint,
            "feature_view": f"{view.name} v{view.version}",
            "days": f"{start} .. {end}",
            "mean_probability": dg.MetadataValue.float(scored.mean_probability or 0.0),
            "predicted_disrupted": scored.predicted_disrupted,
            # The scoring alone (point-in-time reads, the model, the write): what the run's
            # other costs are measured against (benchmarks/main_job.py).
            "scoring_seconds": dg.MetadataValue.float(scoring_seconds),
        }
    )
    yield dg.AssetCheckResult(
        check_name=FEATURES_CHECK, passed=True,
        description=f"model version {model.version} reads {view.name} v{view.version}; fingerprints match",
        metadata={"model_version": model.version, "feature_view": f"{view.name} v{view.version}"},
    )
    yield dg.AssetCheckResult(
        check_name=COVERAGE_CHECK, passed=not coverage,
        description="; ".join(coverage[:20]) or f"{scored.flights} flights, each scored once",
    )
    yield dg.AssetCheckResult(
        check_name=PROBABILITY_CHECK, passed=not probabilities,
        description="; ".join(probabilities[:20]) or "all probabilities in [0, 1]",
    )


inference_assets = [batch_predictions]
