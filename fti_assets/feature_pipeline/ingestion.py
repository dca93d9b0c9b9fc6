"""Ingestion assets: source tables into the raw schema, flights and weather one day at a time."""

import dagster as dg

from fti_assets import code_version
from fti_assets.feature_pipeline import raw_tables
from fti_assets.feature_pipeline.source_files import loadable_file
from fti_assets.partitions import partition_dates, replay_days
from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource
from fti_assets.stateful import day_validation

INGESTION_CODE_VERSION = code_version.of_modules(
    "feature_pipeline/ingestion.py", "feature_pipeline/raw_tables.py", "feature_pipeline/source_files.py"
)


def _daily_raw_asset(table: raw_tables.RawTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.name,
        key_prefix="raw",
        group_name="ingestion",
        partitions_def=replay_days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        code_version=INGESTION_CODE_VERSION,
        description=f"One row per source row of {table.name}, by local delivery day; "
        "re-running a day replaces exactly that day's rows.",
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        start, end = partition_dates(context)
        with warehouse.connect() as connection:
            try:
                day_validation.refuse_if_blocked(connection, start)
            except day_validation.DayBlocked as blocked:
                raise dg.Failure(str(blocked)) from blocked
            written = raw_tables.replace_days(connection, table, loadable_file(table.name), start, end)
        return dg.MaterializeResult(
            metadata={"dagster/row_count": written, "first_day": str(start), "last_day": str(end)}
        )

    return _asset


def _whole_raw_asset(table: raw_tables.RawTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.name,
        key_prefix="raw",
        group_name="ingestion",
        pool=WAREHOUSE_POOL,
        code_version=INGESTION_CODE_VERSION,
        description=f"One row per source row of {table.name}, loaded whole.",
    )
    def _asset(warehouse: WarehouseResource):
        with warehouse.connect() as connection:
            written = raw_tables.replace_whole(connection, table, loadable_file(table.name))
        return dg.MaterializeResult(metadata={"dagster/row_count": written})

    return _asset


raw_assets = [
    _daily_raw_asset(table) if table.daily else _whole_raw_asset(table)
    for table in raw_tables.RAW_TABLES.values()
]
