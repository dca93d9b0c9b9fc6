"""The replay timeline: 2013, one local New York day per partition (DESIGN.md, Replay)."""

import datetime as dt

import dagster as dg

replay_days = dg.DailyPartitionsDefinition(
    start_date="2013-01-01", end_date="2014-01-01", timezone="America/New_York"
)


def partition_dates(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last local day of the run's partition window (a backfill may span many)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()
