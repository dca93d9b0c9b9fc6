"""The code location: each pipeline's definitions, merged."""

import dagster as dg
from dagster_dbt import DbtCliResource

from fti_assets.dbt.assets import dbt_models
from fti_assets.dbt.project import dbt_executable, dbt_project
from fti_assets.feature_pipeline.ingestion import raw_assets
from fti_assets.jobs import feature_job
from fti_assets.resources import ModelStoreResource, WarehouseResource
from fti_assets.training_pipeline.assets import (
    training_assets,
    training_checks,
    training_job,
    training_schedule,
)

defs = dg.Definitions(
    assets=[*raw_assets, dbt_models, *training_assets],
    asset_checks=training_checks,
    jobs=[feature_job, training_job],
    schedules=[training_schedule],
    resources={
        "warehouse": WarehouseResource(),
        "model_store": ModelStoreResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=str(dbt_executable())),
    },
)
