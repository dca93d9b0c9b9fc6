"""dbt models as Dagster assets: one graph from raw tables to features and monitoring."""

import datetime as dt
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from fti_assets import manifest, settings
from fti_assets.dbt import failures
from fti_assets.dbt.code_versions import node_code_version
from fti_assets.dbt.resource import InProcessDbtResource
from fti_assets.partitions import partition_dates, replay_days
from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource


class FtiTranslator(DagsterDbtTranslator):
    """Asset keys are [schema, relation] (`features/fg_route_history_v1`), as in SQL."""

    def __init__(self, manifest: Mapping[str, Any]):
        # Three inference tables are one Dagster asset (inference/batch_predictions).
        super().__init__(
            DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_duplicate_source_asset_keys=True)
        )
        self._manifest = manifest

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["alias"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("schema")

    def get_code_version(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return node_code_version(self._manifest, dbt_resource_props)

    def get_partitions_def(self, dbt_resource_props: Mapping[str, Any]) -> dg.PartitionsDefinition | None:
        """Replay days partition the models that store rows per day (incremental). Views, seeds
        and tables rebuilt whole hold no day of their own: a run builds each once, and Dagster
        records it once, not once per day of the window."""
        materialized = dbt_resource_props.get("config", {}).get("materialized")
        return replay_days if materialized == "incremental" else None


dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


def dbt_cli() -> InProcessDbtResource:
    return InProcessDbtResource(project_dir=dbt_project, dbt_executable=str(manifest.dbt_executable()))


# Unit tests pin SQL logic, not data: they run in development and CI (`dbt build`), as dbt
# recommends, not in every scheduled replay.
REPLAY_BUILD_ARGS = ("build", "--exclude-resource-type", "unit_test")


def replay_window_env(start: dt.date, end: dt.date) -> dict[str, str]:
    """The window for dbt as environment variables (macros/replay_window.sql): unlike `--vars`,
    a new day's window does not make dbt re-parse the whole project."""
    return {"FTI_START_DATE": str(start), "FTI_END_DATE": str(end)}


def dbt_model_assets() -> dg.AssetsDefinition:
    """Every dbt model, seed and test as assets and checks, from the current manifest (parsed
    first if missing or stale): called when the definitions are built, not at import."""
    current = manifest.load()

    @dbt_assets(
        manifest=current,
        project=dbt_project,
        dagster_dbt_translator=FtiTranslator(current),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        """Build (run + test) the selected dbt models for the partition window (all days without one)."""
        yield from _build(context, dbt, warehouse)

    return dbt_models


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    partitioned = context.has_partition_key or context.has_partition_key_range
    days = partition_dates(context) if partitioned else None
    window = replay_window_env(*days) if days else {}
    if days:
        _refuse_if_blocked(warehouse, days[0])
    _refuse_if_the_champion_cannot_score(context, warehouse)
    # dbt runs in this process (fti_assets/dbt/resource.py) and reads the window and the
    # warehouse from the environment while it runs: both stay set until its events are read.
    with warehouse.lock(), settings.environment({"FTI_WAREHOUSE": str(warehouse.resolved_path), **window}):
        invocation = dbt.cli(list(REPLAY_BUILD_ARGS), context=context, raise_on_error=False)
        try:
            yield from invocation.stream()
            if days:
                _record_validation(warehouse, days, invocation)
            if not invocation.is_successful():
                failed = failures.failed_tests(
                    invocation.get_artifact("run_results.json"), invocation.get_artifact(manifest.FILE_NAME)
                )
                with warehouse.connect(read_only=True) as connection:
                    details = failures.describe(failed, connection)
                raise dg.Failure(
                    description="dbt build failed; nothing downstream of the failed nodes was built.\n"
                    + (details or str(invocation.get_error() or "see the dbt logs"))
                )
        finally:
            shutil.rmtree(invocation.target_path, ignore_errors=True)


def _refuse_if_blocked(warehouse: WarehouseResource, start: dt.date) -> None:
    from fti_assets.stateful import day_validation

    if not warehouse.resolved_path.exists():
        return
    with warehouse.connect(read_only=True) as connection:
        try:
            day_validation.refuse_if_blocked(connection, start)
        except day_validation.DayBlocked as blocked:
            raise dg.Failure(str(blocked)) from blocked


PREDICTIONS = dg.AssetKey(["inference", "batch_predictions"])


def _refuse_if_the_champion_cannot_score(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """In a run that will score, check the champion against the current code before dbt rebuilds
    anything: a refusal after the build would leave features built by code no model was trained on."""
    from fti_assets.feature_views.compatibility import FeatureMismatch, check_fingerprint
    from fti_assets.stateful import registry

    if PREDICTIONS not in (context.run.asset_selection or context.job_def.asset_layer.selected_asset_keys):
        return
    if not warehouse.resolved_path.exists():
        return
    with warehouse.connect(read_only=True) as connection:
        version = registry.current_alias_version(connection, "champion")
        model = registry.get_version(connection, version) if version is not None else None
    if model is None:
        return
    try:
        check_fingerprint(model, manifest.load())
    except (FeatureMismatch, LookupError) as mismatch:
        raise dg.Failure(f"not rebuilding the features of a run that scores: {mismatch}") from mismatch


def _record_validation(warehouse: WarehouseResource, days: tuple[dt.date, dt.date], invocation) -> None:
    """Record the window's verdict in the validation ledger when this build ran the gate."""
    from fti_assets.stateful import day_validation

    ran, failed = failures.gate_outcome(
        invocation.get_artifact("run_results.json"), invocation.get_artifact(manifest.FILE_NAME)
    )
    if not ran:
        return
    with warehouse.connect() as connection:
        if failed:
            day_validation.record_failed(connection, *days, [day_validation.FailedCheck(t, r) for t, r in failed])
        else:
            day_validation.record_passed(connection, *days)
