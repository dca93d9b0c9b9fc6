"""The code location: each pipeline's definitions, merged."""

import dagster as dg
from dagster_dbt import DbtCliResource

from fti_assets.automation import daily_replay_schedule, retrain_on_degradation
from fti_assets.dbt.assets import dbt_models
from fti_assets.dbt.project import dbt_executable, dbt_project
from fti_assets.feature_pipeline.ingestion import raw_assets
from fti_assets.inference_pipeline.assets import inference_assets
from fti_assets.jobs import daily_replay_job, feature_job, inference_job
from fti_assets.online_pipeline.assets import online_assets
from fti_assets.resources import ModelStoreResource, WarehouseResource
from fti_assets.training_pipeline.assets import (
    promote_job,
    training_assets,
    training_checks,
    training_job,
    training_schedule,
)

defs = dg.Definitions(
    assets=[*raw_assets, dbt_models, *training_assets, *inference_assets, *online_assets],
    asset_checks=training_checks,
    jobs=[feature_job, training_job, inference_job, daily_replay_job, promote_job],
    schedules=[training_schedule, daily_replay_schedule],
    sensors=[retrain_on_degradation],
    resources={
        "warehouse": WarehouseResource(),
        "model_store": ModelStoreResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=str(dbt_executable())),
    },
)
