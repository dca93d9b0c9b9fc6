"""Schedules that move the 2013 replay forward and retrain on what it has delivered.

The replay has no wall-clock calendar of its own: each tick asks what the replay has done so
far, so a scheduled run always does real work, whenever it fires.
"""

import datetime as dt

import dagster as dg
import duckdb

from fti_assets import settings
from fti_assets.automation.jobs import daily_replay_job, training_job
from fti_assets.constants import LOCAL_TIMEZONE
from fti_assets.partitions import replay_days
from fti_assets.stateful import day_validation, registry
from fti_assets.stateful.warehouse import connect
from fti_assets.stateful.warehouse_lock import WarehouseBusy
from fti_assets.training_pipeline.config import SnapshotConfig
from fti_assets.training_pipeline.retraining import why_not_retrain

RAW_FLIGHTS = dg.AssetKey(["raw", "flights"])


def next_replay_day(instance: dg.DagsterInstance) -> str | None:
    """The day after the replay's frontier (the latest day delivered), or its first day."""
    days = replay_days.get_partition_keys()
    delivered = instance.get_materialized_partitions(RAW_FLIGHTS)
    if not delivered:
        return days[0]
    following = days.index(max(delivered)) + 1
    return days[following] if following < len(days) else None


def _has_champion() -> bool | str:
    """True, False, or why the registry could not be read (a writer holds the warehouse)."""
    try:
        # A tick never waits for the warehouse: a busy one is read at the next tick.
        with connect(settings.warehouse_path(), read_only=True, timeout=0) as connection:
            return registry.current_alias_version(connection, "champion") is not None
    except (WarehouseBusy, OSError, duckdb.Error) as unreadable:
        return f"registry not readable now: {unreadable}"


def _blocked(day: str) -> str | None:
    """Why the replay may not reach `day` (an earlier day failed its checks), or None."""
    try:
        with connect(settings.warehouse_path(), read_only=True, timeout=0) as connection:
            day_validation.refuse_if_blocked(connection, dt.date.fromisoformat(day))
    except day_validation.DayBlocked as blocked:
        return str(blocked)
    except (WarehouseBusy, OSError, duckdb.Error) as unreadable:
        return f"validation ledger not readable now: {unreadable}"
    return None


@dg.schedule(
    job=daily_replay_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=LOCAL_TIMEZONE,
    description="Every 15 minutes of wall time, replay the next day of 2013 (ingest, features, score, monitor).",
)
def daily_replay_schedule(context: dg.ScheduleEvaluationContext):
    day = next_replay_day(context.instance)
    if day is None:
        return dg.SkipReason("the 2013 replay is complete")
    champion = _has_champion()
    if champion is not True:
        return dg.SkipReason(champion or "no champion model yet: run `fti main` or the training_job first")
    blocked = _blocked(day)
    if blocked:
        return dg.SkipReason(blocked)
    return dg.RunRequest(run_key=f"replay-{day}", partition_key=day)


@dg.schedule(
    job=training_job,
    name="weekly_training",
    cron_schedule="0 6 * * 1",
    execution_timezone=LOCAL_TIMEZONE,
    description="Weekly: train on everything the replay delivered, unless no label arrived since the "
    "champion's cutoff.",
)
def weekly_training(context: dg.ScheduleEvaluationContext):
    """Each tick trains on everything the replay has delivered so far (an empty cutoff resolves
    to the latest day in the spine), or skips, saying why, when that would refit the champion's
    own snapshot."""
    try:
        with connect(settings.warehouse_path(), read_only=True, timeout=0) as connection:
            reason = why_not_retrain(connection)
    except (WarehouseBusy, OSError, duckdb.Error) as unreadable:
        return dg.SkipReason(f"the warehouse is not readable now: {unreadable}")
    if reason:
        return dg.SkipReason(reason)
    return dg.RunRequest(run_config=dg.RunConfig(ops={"training_snapshot": SnapshotConfig(cutoff="")}))
