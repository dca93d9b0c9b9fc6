"""The intraday feature groups, online: each key's latest row computed from its events, as the
dbt models (models/features/fg_*_today_v*, fg_origin_*) compute every row offline.

A row is a pure function of the key's events (sorted by event time, then id), so a key
recomputed after any set of arrivals, duplicated or out of order, gets the row the offline
model holds at the key's latest event time. The parity test holds the two definitions to the
same values for every key at every event time of a replayed day.
"""

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from statistics import fmean
from typing import Any

from fti_assets.feature_views.declared import (
    CARRIER_ORIGIN_TODAY_V1,
    ORIGIN_DEPARTURES_RECENT_V1,
    ORIGIN_WEATHER_LATEST_V1,
    PLANE_TODAY_V1,
    PLANE_TODAY_V2,
)
from fti_assets.feature_views.view import FeatureGroupRef
from fti_assets.stateful import event_log
from fti_assets.stateful.event_log import Event

DEPARTURES = ("departed", "cancelled")
Key = tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class StreamedGroup:
    """How events reach one group: which events count, the key they update, the events a key's
    row is computed from (a query on the log), and the computation."""

    group: FeatureGroupRef
    counts: Callable[[Event], bool]
    key: Callable[[Event], Key]
    scope: Callable[[sqlite3.Connection, Key], list[Event]]
    row: Callable[[Sequence[Event]], tuple[dt.datetime, tuple]]

    def entity(self, key: Key) -> str:
        """The online store's entity string for a key, as the daily materialization writes it."""
        return "|".join(str(part) for part in key)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def _last(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return present[-1] if present else None


def _delayed_share(departed: Sequence[Event]) -> float | None:
    if not departed:
        return None
    return fmean(1.0 if e.dep_delay_minutes is not None and e.dep_delay_minutes >= 15 else 0.0 for e in departed)


def plane_today(events: Sequence[Event]) -> tuple[dt.datetime, tuple]:
    departed = [e for e in events if e.event_type == "departed"]
    arrived = sum(e.event_type == "arrived" for e in events)
    delays = [e.dep_delay_minutes for e in departed]
    return events[-1].event_at, (
        len(departed),
        len(departed) - arrived,
        _last(delays),
        _last([e.arr_delay_minutes for e in events]),
        max((d for d in delays if d is not None), default=None),
    )


def plane_today_v2(events: Sequence[Event]) -> tuple[dt.datetime, tuple]:
    """v1's row, then when the latest leg arrived (events are in event-time order)."""
    at, values = plane_today(events)
    arrivals = [e.event_at for e in events if e.event_type == "arrived"]
    return at, (*values, arrivals[-1] if arrivals else None)


def origin_departures_recent(events: Sequence[Event]) -> tuple[dt.datetime, tuple]:
    at = events[-1].event_at
    hour = [e for e in events if e.event_at >= at - dt.timedelta(hours=1)]
    hours = [e for e in events if e.event_at >= at - dt.timedelta(hours=3)]
    departed = [e for e in hours if e.event_type == "departed"]
    return at, (
        sum(e.event_type == "departed" for e in hour),
        _mean([e.dep_delay_minutes for e in hour]),
        len(departed),
        _mean([e.dep_delay_minutes for e in hours]),
        _delayed_share(departed),
        sum(e.event_type == "cancelled" for e in hours),
    )


def carrier_origin_today(events: Sequence[Event]) -> tuple[dt.datetime, tuple]:
    departed = [e for e in events if e.event_type == "departed"]
    return events[-1].event_at, (
        len(departed),
        _mean([e.dep_delay_minutes for e in events]),
        _delayed_share(departed),
        sum(e.event_type == "cancelled" for e in events),
    )


def origin_weather_latest(events: Sequence[Event]) -> tuple[dt.datetime, tuple]:
    latest = events[-1]
    return latest.event_at, tuple(getattr(latest, name) for name in event_log.WEATHER_FIELDS)


def _three_hours_before_latest(connection: sqlite3.Connection, key: Key) -> list[Event]:
    types = ", ".join(f"'{t}'" for t in DEPARTURES)
    latest = f"(select max(event_at) from events where origin = ? and event_type in ({types}))"
    window_us = 3 * 3600 * 1_000_000
    where = f"origin = ? and event_type in ({types}) and event_at >= {latest} - {window_us}"
    return event_log.scope(connection, "events_by_origin", where, (*key, *key))


def _plane_day(connection: sqlite3.Connection, key: Key) -> list[Event]:
    where = "tailnum = ? and partition_date = ? and event_type in ('departed', 'arrived')"
    return event_log.scope(connection, "events_by_plane_day", where, key)


def _counts_for_plane(event: Event) -> bool:
    return event.tailnum is not None and event.event_type in ("departed", "arrived")


def _plane_key(event: Event) -> Key:
    return event.tailnum, event.partition_date.isoformat()


STREAMED_GROUPS = (
    StreamedGroup(group=PLANE_TODAY_V1, counts=_counts_for_plane, key=_plane_key, scope=_plane_day, row=plane_today),
    StreamedGroup(
        group=PLANE_TODAY_V2, counts=_counts_for_plane, key=_plane_key, scope=_plane_day, row=plane_today_v2
    ),
    StreamedGroup(
        group=ORIGIN_DEPARTURES_RECENT_V1,
        counts=lambda e: e.event_type in DEPARTURES,
        key=lambda e: (e.origin,),
        scope=_three_hours_before_latest,
        row=origin_departures_recent,
    ),
    StreamedGroup(
        group=CARRIER_ORIGIN_TODAY_V1,
        counts=lambda e: e.event_type in DEPARTURES,
        key=lambda e: (e.carrier, e.origin, e.partition_date.isoformat()),
        scope=lambda c, k: event_log.scope(
            c,
            "events_by_carrier_origin_day",
            "carrier = ? and origin = ? and partition_date = ? and event_type in ('departed', 'cancelled')",
            k,
        ),
        row=carrier_origin_today,
    ),
    StreamedGroup(
        group=ORIGIN_WEATHER_LATEST_V1,
        counts=lambda e: e.event_type == "observed",
        key=lambda e: (e.origin,),
        scope=lambda c, k: event_log.scope(
            c,
            "events_by_origin",
            "origin = ? and event_type = 'observed' and event_at = "
            "(select max(event_at) from events where origin = ? and event_type = 'observed')",
            (*k, *k),
        ),
        row=origin_weather_latest,
    ),
)
