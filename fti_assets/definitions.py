"""The code location: each pipeline's definitions, merged.

Built when Dagster (or the CLI, or a test) asks for them, not at import: the dbt assets need a
current manifest, which `manifest.load()` parses first when it is missing or stale.
"""

import functools

import dagster as dg

from fti_assets.automation import JOBS, SCHEDULES, SENSORS
from fti_assets.feature_pipeline.ingestion import raw_assets
from fti_assets.inference_pipeline.assets import inference_assets
from fti_assets.online_pipeline.assets import online_assets
from fti_assets.progress import progress_logger
from fti_assets.resources import ModelStoreResource, WarehouseResource
from fti_assets.streaming_pipeline.assets import streaming_assets
from fti_assets.training_pipeline.assets import training_assets, training_checks


@functools.cache
def build() -> dg.Definitions:
    """The definitions, built once per process."""
    from fti_assets.dbt.assets import dbt_cli, dbt_model_assets

    return dg.Definitions(
        assets=[*raw_assets, dbt_model_assets(), *training_assets, *inference_assets, *online_assets,
                *streaming_assets],
        asset_checks=training_checks,
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        # A run whose config names no logger gets Dagster's console logger, as if none were given.
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        resources={"warehouse": WarehouseResource(), "model_store": ModelStoreResource(), "dbt": dbt_cli()},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build()
