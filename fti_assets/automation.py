"""Schedules and sensors that move the 2013 replay forward and react to what monitoring sees.

The replay has no wall-clock calendar of its own: each tick asks what the replay has done so
far, so a scheduled run always does real work, whenever it fires.
"""

import dataclasses
import os

import dagster as dg
import duckdb

from fti_assets import settings
from fti_assets.jobs import daily_replay_job
from fti_assets.partitions import replay_days

RAW_FLIGHTS = dg.AssetKey(["raw", "flights"])
PREDICTIONS = dg.AssetKey(["inference", "batch_predictions"])


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
    from fti_assets.stateful import registry

    try:
        with duckdb.connect(str(settings.warehouse_path()), read_only=True) as connection:
            return registry.current_alias_version(connection, "champion") is not None
    except duckdb.Error as unreadable:
        return f"registry not readable now: {unreadable}"


def _blocked(day: str) -> str | None:
    """Why the replay may not reach `day` (an earlier day failed its checks), or None."""
    import datetime as dt

    from fti_assets.stateful import day_validation

    try:
        with duckdb.connect(str(settings.warehouse_path()), read_only=True) as connection:
            day_validation.refuse_if_blocked(connection, dt.date.fromisoformat(day))
    except day_validation.DayBlocked as blocked:
        return str(blocked)
    except duckdb.Error as unreadable:
        return f"validation ledger not readable now: {unreadable}"
    return None


@dg.schedule(
    job=daily_replay_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="America/New_York",
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


@dataclasses.dataclass(frozen=True)
class DegradationRule:
    """Retrain when the champion's daily ROC AUC stays below `min_roc_auc` for `days` labelled
    days in a row (days with fewer than `min_flights` labelled flights are not judged).

    0.60 is well below what the model reaches on 2013 (see README) and above the route
    baseline's, so it fires on a real drop, not on ordinary day-to-day noise."""

    min_roc_auc: float = dataclasses.field(default_factory=lambda: float(os.environ.get("FTI_RETRAIN_MIN_ROC_AUC", 0.60)))
    days: int = dataclasses.field(default_factory=lambda: int(os.environ.get("FTI_RETRAIN_DAYS", 3)))
    min_flights: int = 100


def degraded_days(connection: duckdb.DuckDBPyConnection, rule: DegradationRule) -> list[str]:
    """The last `rule.days` judged days of the champion, if every one of them is below the floor."""
    rows = connection.execute(
        """
        with champion as (
            select version from registry.alias_history where alias = 'champion' and valid_to is null
        )
        select scheduled_dep_date, roc_auc
        from monitoring.mon_daily_performance
        where model_version = (select version from champion) and labelled_flights >= ?
        order by scheduled_dep_date desc
        limit ?
        """,
        [rule.min_flights, rule.days],
    ).fetchall()
    if len(rows) < rule.days or any(auc is None or auc >= rule.min_roc_auc for _, auc in rows):
        return []
    return sorted(str(day) for day, _ in rows)


@dg.sensor(
    job_name="training_job",
    minimum_interval_seconds=300,
    description="Requests a training run when the champion's daily ROC AUC stays below the floor (DegradationRule).",
)
def retrain_on_degradation(context: dg.SensorEvaluationContext):
    rule = DegradationRule()
    try:
        with duckdb.connect(str(settings.warehouse_path()), read_only=True) as connection:
            days = degraded_days(connection, rule)
    except duckdb.Error as busy_or_missing:
        return dg.SkipReason(f"monitoring not readable now: {busy_or_missing}")
    if not days:
        return dg.SkipReason(f"no {rule.days} days in a row below ROC AUC {rule.min_roc_auc}")
    return dg.RunRequest(
        run_key=f"degraded-{days[-1]}",
        tags={"fti/reason": f"ROC AUC below {rule.min_roc_auc} on {', '.join(days)}"},
    )
