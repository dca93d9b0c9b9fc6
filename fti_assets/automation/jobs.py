"""Every job: asset jobs selected by layer, each run in one process, and the promote job.

The in-process executor keeps a run's DuckDB writes in one process (and is about twice as
fast here); the `duckdb_writer` pool serialises writing steps across concurrent runs.
"""

import dagster as dg

from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource
from fti_assets.training_pipeline.config import PromoteConfig

feature_selection = dg.AssetSelection.groups("ingestion", "staging", "intermediate", "features")
inference_selection = dg.AssetSelection.groups("inference", "online", "monitoring")

feature_job = dg.define_asset_job(
    "feature_job",
    selection=feature_selection,
    description="Ingest the replay days of the partition window and build the feature groups.",
    executor_def=dg.in_process_executor,
)

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.groups("training"),
    description="Snapshot the labelled features, train and register a challenger, promote it if it passes the gate.",
    executor_def=dg.in_process_executor,
)

inference_job = dg.define_asset_job(
    "inference_job",
    selection=inference_selection,
    description="Score the window's flights with the champion, refresh the online store and the monitoring models.",
    executor_def=dg.in_process_executor,
)

daily_replay_job = dg.define_asset_job(
    "daily_replay_job",
    selection=feature_selection | inference_selection,
    description="One replay day: ingest it, build its features, score its flights, refresh the online store "
    "and monitoring.",
    executor_def=dg.in_process_executor,
)


@dg.op(pool=WAREHOUSE_POOL)
def promote_model_version(context: dg.OpExecutionContext, config: PromoteConfig, warehouse: WarehouseResource):
    """Point `champion` at the configured version, refused unless the live features match it."""
    from fti_assets import manifest
    from fti_assets.training_pipeline import rollout

    with warehouse.connect() as connection:
        try:
            done = rollout.promote(connection, manifest.load(), config.version, config.reason)
        except rollout.PromotionRefused as refused:
            raise dg.Failure(str(refused)) from refused
    context.log.info(f"{done.alias}: version {done.previous} -> {done.version} ({done.feature_view})")
    # Recorded as a materialization of champion_promotion, so the UI shows scoring as stale.
    yield dg.AssetMaterialization(
        asset_key="champion_promotion",
        metadata={"champion": done.version, "previous": done.previous or 0, "reason": done.reason,
                  "feature_view": done.feature_view},
    )
    yield dg.Output(done.version)


@dg.job(description="Set `champion` to a model version (upgrade or rollback), with the feature view it reads.")
def promote_job():
    promote_model_version()
