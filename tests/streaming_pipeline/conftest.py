"""A replayed day's events and the offline rows dbt built from them (the shared few-day warehouse)."""

import datetime as dt
import math

import duckdb
import pytest

from fti_assets.feature_views.online import replay_clock
from fti_assets.streaming_pipeline import replay
from fti_assets.streaming_pipeline.aggregates import STREAMED_GROUPS
from tests.online_pipeline.conftest import online  # noqa: F401 (a fixture: the scored copy with its online store)

DAY = dt.date(2013, 1, 3)


def offline_rows(connection, streamed) -> dict[tuple[str, dt.datetime], tuple]:
    group = streamed.group
    keys = [k for _, k in group.join_keys]
    rows = connection.sql(f"select {', '.join(keys)}, event_at, {', '.join(group.row_columns)} from features.{group.relation}")
    found = {}
    for row in rows.fetchall():
        key = tuple(str(part) for part in row[: len(keys)])
        found[(streamed.entity(key), row[len(keys)])] = row[len(keys) + 1 :]
    return found


def same(streamed, expected) -> bool:
    """An online value (decoded from the store's JSON) equals the expected one, online or
    offline: numbers to 1e-12, timestamps exactly (the store keeps them as ISO text)."""
    if streamed is None or expected is None:
        return streamed is None and expected is None
    if isinstance(expected, dt.datetime):
        expected = expected.isoformat()
    if isinstance(expected, str):
        return streamed == expected
    return math.isclose(streamed, expected, rel_tol=1e-12, abs_tol=1e-12)


@pytest.fixture(scope="session")
def day_events(built):
    """Events from the day before DAY's start to DAY's end, in order; offline rows per group."""
    _, env = built
    with duckdb.connect(env["FTI_WAREHOUSE"], read_only=True) as connection:
        events = replay.read_events(connection, replay_clock(DAY - dt.timedelta(days=2)), replay_clock(DAY))
        offline = {s.group.relation: offline_rows(connection, s) for s in STREAMED_GROUPS}
    return events, offline
