"""Run a job over a window of replay days in this process: the CLI's and the tests' way in."""

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from fti_assets.settings import environment

# Before a run starts, Dagster's SQLite storage records one "planned" event per asset and
# partition, about 25 ms each: 6,600 of them, nearly three minutes, for a year of feature
# assets. Dagster's opt-in setting (dagster-io/dagster#29288) makes a run over a range of days
# announce each asset once. Its cost, as that change says: if the run fails, its days show in
# the UI as missing rather than failed (the run shows the failure, and `fti` prints it).
# Single-day runs, the schedule's, keep per-day planned events.
PLANNED_EVENTS_PER_RANGE = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def run_window(
    job_name: str,
    start: str,
    end: str,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """One run over the local days start..end, as a single-run backfill of those partitions."""
    from fti_assets.definitions import build

    with environment(PLANNED_EVENTS_PER_RANGE if start != end else {}):
        return build().get_job_def(job_name).execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
            raise_on_error=False,
        )


def run_once(job_name: str, instance: dg.DagsterInstance, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """One run of an unpartitioned job (training)."""
    from fti_assets.definitions import build

    return build().get_job_def(job_name).execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """The error of every failed step, as a user should read it."""
    # Steps that fail for one reason (five raw tables, one bad path) say it once.
    return list(dict.fromkeys(
        _readable(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ))


def _readable(error) -> str:
    """An exception raised by an asset arrives wrapped in Dagster's step error: show its own message."""
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()
