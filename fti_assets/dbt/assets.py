"""dbt models as Dagster assets: one graph from raw tables to features and monitoring."""

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from fti_assets.dbt import failures
from fti_assets.dbt.code_versions import node_code_version
from fti_assets.dbt.project import dbt_project
from fti_assets.partitions import partition_dates, replay_days
from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource


class FtiTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, relation] (`features/fg_route_history_v1`), as in SQL."""

    def __init__(self, manifest: Mapping[str, Any]):
        # Three inference tables are one Dagster asset (inference/batch_predictions).
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True))
        self._manifest = manifest

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("schema")

    def get_code_version(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return node_code_version(self._manifest, dbt_resource_props)


_manifest = json.loads(dbt_project.manifest_path.read_text())


def replay_build_args(start: dt.date, end: dt.date) -> list[str]:
    """The dbt command of a replay window. Unit tests pin SQL logic, not data: they run in
    development and CI (`dbt build`), as dbt recommends, not in every scheduled replay."""
    window = json.dumps({"start_date": str(start), "end_date": str(end)})
    return ["build", "--exclude-resource-type", "unit_test", "--vars", window]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=FtiTranslator(_manifest),
    partitions_def=replay_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Build (run + test) the selected dbt models for the partition window."""
    start, end = partition_dates(context)
    os.environ["FTI_WAREHOUSE"] = str(warehouse.resolved_path)
    # dbt writes the warehouse from its own process: this step holds the writer's lock for it.
    with warehouse.lock():
        invocation = dbt.cli(
            replay_build_args(start, end),
            context=context,
            raise_on_error=False,
        )
        try:
            yield from invocation.stream()
            if not invocation.is_successful():
                failed = failures.failed_tests(
                    invocation.get_artifact("run_results.json"), invocation.get_artifact("manifest.json")
                )
                with warehouse.connect(read_only=True) as connection:
                    details = failures.describe(failed, connection)
                raise dg.Failure(
                    description="dbt build failed; nothing downstream of the failed nodes was built.\n"
                    + (details or str(invocation.get_error() or "see the dbt logs"))
                )
        finally:
            shutil.rmtree(invocation.target_path, ignore_errors=True)
