"""The replay timeline: 2013, one local New York day per partition (docs/architecture.md, "The replay")."""

import datetime as dt

import dagster as dg

from fti_assets.constants import LOCAL_TIMEZONE, REPLAY_END_EXCLUSIVE, REPLAY_START

replay_days = dg.DailyPartitionsDefinition(
    start_date=REPLAY_START, end_date=REPLAY_END_EXCLUSIVE, timezone=LOCAL_TIMEZONE
)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last local day of the run's partition window (a backfill may span many)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()
