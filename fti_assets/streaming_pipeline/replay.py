"""The replay source: the events the delivered days imply (staging.stg_events, the same rows
the batch features are built from), emitted into the event log in event-time order, at a
chosen speed.

Speed is event time per wall time: 60 plays an hour in a minute; None plays as fast as the log
takes them. Events due at the same wall instant are appended together, so a fast replay makes
few, large appends and a slow one many small ones.
"""

import dataclasses
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence

import duckdb

from fti_assets.stateful import event_log
from fti_assets.stateful.event_log import Event

EVENTS_RELATION = "staging.stg_events"


def read_events(connection: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime) -> list[Event]:
    """The events with start <= event time < end, in event-time order (ties by id)."""
    columns = ", ".join(event_log.COLUMNS)
    rows = connection.execute(
        f"select {columns} from {EVENTS_RELATION} where event_at >= ? and event_at < ? order by event_at, event_id",
        [start, end],
    ).fetchall()
    return [Event(*row) for row in rows]


def by_event_time(events: Sequence[Event]) -> Iterator[tuple[dt.datetime, list[Event]]]:
    """The events grouped by instant, in order (they must be sorted by event time)."""
    group: list[Event] = []
    for event in events:
        if group and event.event_at != group[0].event_at:
            yield group[0].event_at, group
            group = []
        group.append(event)
    if group:
        yield group[0].event_at, group


@dataclasses.dataclass
class Replay:
    """Appends `events` (sorted by event time) to the log at `speed`; `play()` returns when done
    or when `stop` is set, with the number of new events."""

    events: Sequence[Event]
    speed: float | None = None
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def wall_seconds(self, event_at: dt.datetime) -> float:
        """When an event is due, in seconds after the replay started."""
        if self.speed is None or not self.events:
            return 0.0
        return (event_at - self.events[0].event_at).total_seconds() / self.speed

    def play(self, log: sqlite3.Connection, chunk: int = 2000) -> int:
        started, added, i = time.perf_counter(), 0, 0
        while i < len(self.events) and not self.stop.is_set():
            wait = self.wall_seconds(self.events[i].event_at) - (time.perf_counter() - started)
            if wait > 0:
                self.stop.wait(wait)
                continue
            elapsed = time.perf_counter() - started
            j = i
            while j < len(self.events) and j - i < chunk and self.wall_seconds(self.events[j].event_at) <= elapsed:
                j += 1
            added += event_log.append(log, self.events[i:j])
            i = j
        return added
