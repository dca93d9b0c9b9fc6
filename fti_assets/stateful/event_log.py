"""The event log: every flight and weather event streamed in, once per id, in an embedded SQLite file.

Producers (the replay source, the service's push endpoint, `append` from Python) add events;
the streaming pipeline consumes them in arrival order (`seq`) to update the online store, and
lands them in the warehouse (raw.stream_events) for the next batch build. Appending never
touches the warehouse, so a push is never blocked by a batch build, and an event delivered
twice is stored once (its id is unique): replaying a stream changes nothing twice.
"""

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from fti_assets import constants

EVENT_TYPES = ("departed", "arrived", "cancelled", "observed")
FLIGHT_FIELDS = ("flight_id", "scheduled_dep_at", "carrier", "origin", "dest", "tailnum",
                 "dep_delay_minutes", "arr_delay_minutes")
WEATHER_FIELDS = ("temp_f", "dewpoint_f", "humidity_pct", "wind_speed_mph", "wind_gust_mph", "precip_inches",
                  "pressure_mb", "visibility_miles")
LOCAL_TIMEZONE = ZoneInfo(constants.LOCAL_TIMEZONE)
EPOCH = dt.datetime(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class Event:
    """One event, as staging.stg_events holds it. Timestamps are naive UTC. `partition_date` is
    the local date of the flight's scheduled departure, or of the observation."""

    event_id: str
    event_type: str
    event_at: dt.datetime
    partition_date: dt.date
    flight_id: str | None = None
    scheduled_dep_at: dt.datetime | None = None
    carrier: str | None = None
    origin: str | None = None
    dest: str | None = None
    tailnum: str | None = None
    dep_delay_minutes: float | None = None
    arr_delay_minutes: float | None = None
    temp_f: float | None = None
    dewpoint_f: float | None = None
    humidity_pct: float | None = None
    wind_speed_mph: float | None = None
    wind_gust_mph: float | None = None
    precip_inches: float | None = None
    pressure_mb: float | None = None
    visibility_miles: float | None = None


COLUMNS = tuple(f.name for f in dataclasses.fields(Event))


def local_date(at: dt.datetime) -> dt.date:
    return at.replace(tzinfo=dt.UTC).astimezone(LOCAL_TIMEZONE).date()


def flight_id(carrier: str, flight_number: int, origin: str, scheduled_dep_at: dt.datetime) -> str:
    """The spine's key (stg_flights): carrier, number, origin and local date of the departure."""
    return f"{carrier}-{flight_number}-{origin}-{local_date(scheduled_dep_at).isoformat()}"


def microseconds(at: dt.datetime) -> int:
    return (at - EPOCH) // dt.timedelta(microseconds=1)


def from_microseconds(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


DDL = (
    "create table if not exists events (seq integer primary key autoincrement, event_id text not null unique, "
    "event_type text not null, event_at integer not null, partition_date text not null, flight_id text, "
    "scheduled_dep_at integer, carrier text, origin text, dest text, tailnum text, dep_delay_minutes real, "
    "arr_delay_minutes real, temp_f real, dewpoint_f real, humidity_pct real, wind_speed_mph real, "
    "wind_gust_mph real, precip_inches real, pressure_mb real, visibility_miles real, received_at integer not null)",
    # The scopes the streaming aggregates recompute a key from.
    "create index if not exists events_by_origin on events (origin, event_at)",
    "create index if not exists events_by_plane_day on events (tailnum, partition_date, event_at)",
    "create index if not exists events_by_carrier_origin_day on events (carrier, origin, partition_date, event_at)",
)
_INSERT = (
    f"insert or ignore into events ({', '.join(COLUMNS)}, received_at) values ({', '.join('?' * (len(COLUMNS) + 1))})"
)
_SELECT = f"select seq, received_at, {', '.join(COLUMNS)} from events"


def connect(path: Path, timeout: float = 30.0) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    connection.execute("pragma journal_mode=wal")
    connection.execute("pragma synchronous=normal")
    for statement in DDL:
        connection.execute(statement)
    return connection


def _row(event: Event, received_us: int) -> tuple:
    values = []
    for name in COLUMNS:
        value = getattr(event, name)
        if isinstance(value, dt.datetime):
            value = microseconds(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        values.append(value)
    return (*values, received_us)


def event_from_row(row: Sequence) -> Event:
    """An Event from a stored row (COLUMNS, in order)."""
    values = dict(zip(COLUMNS, row, strict=True))
    values["event_at"] = from_microseconds(values["event_at"])
    values["partition_date"] = dt.date.fromisoformat(values["partition_date"])
    if values["scheduled_dep_at"] is not None:
        values["scheduled_dep_at"] = from_microseconds(values["scheduled_dep_at"])
    return Event(**values)


def append(connection: sqlite3.Connection, events: Iterable[Event], received_at: dt.datetime | None = None) -> int:
    """Store the events whose ids are new, in one transaction; returns how many were new."""
    received = microseconds(received_at or dt.datetime.now(dt.UTC).replace(tzinfo=None))
    rows = [_row(e, received) for e in events]
    connection.execute("begin immediate")
    try:
        before = connection.total_changes
        connection.executemany(_INSERT, rows)
        added = connection.total_changes - before
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return added


def read_after(connection: sqlite3.Connection, seq: int, limit: int) -> list[tuple[int, int, Event]]:
    """Up to `limit` events stored after `seq`, in the order they arrived: (seq, received_at
    in microseconds, event)."""
    rows = connection.execute(f"{_SELECT} where seq > ? order by seq limit ?", (seq, limit)).fetchall()
    return [(row[0], row[1], event_from_row(row[2:])) for row in rows]


def scope(connection: sqlite3.Connection, index: str, where: str, parameters: Sequence) -> list[Event]:
    """The events matching `where` through `index` (SQLite would pick the origin's index, made
    for another scope, when the time order matches it), in event-time order."""
    rows = connection.execute(
        f"{_SELECT} indexed by {index} where {where} order by event_at, event_id", parameters
    ).fetchall()
    return [event_from_row(row[2:]) for row in rows]


def last_seq(connection: sqlite3.Connection) -> int:
    return connection.execute("select coalesce(max(seq), 0) from events").fetchone()[0]


class BadEvent(ValueError):
    """An event that cannot be stored as it is; the message names the event and the problem."""


_REQUIRED = {
    "departed": ("carrier", "flight_number", "origin", "dest", "scheduled_dep_at", "dep_delay_minutes"),
    "arrived": ("carrier", "flight_number", "origin", "dest", "scheduled_dep_at", "dep_delay_minutes",
                "arr_delay_minutes"),
    "cancelled": ("carrier", "flight_number", "origin", "dest", "scheduled_dep_at"),
    "observed": ("origin",),
}
# How far from its flight's day an event may happen: what the delay and air-time limits allow,
# and the span the intraday feature groups rebuild a day's rows by (staging.stg_events' test).
EVENT_DAYS_BEFORE, EVENT_DAYS_AFTER = dt.timedelta(days=1), dt.timedelta(days=3)
_LIMITS = {
    "dep_delay_minutes": (-120, 2880), "arr_delay_minutes": (-180, 2880), "temp_f": (-60, 130),
    "dewpoint_f": (-80, 100), "humidity_pct": (0, 100), "wind_speed_mph": (0, 250), "wind_gust_mph": (0, 300),
    "precip_inches": (0, 10), "pressure_mb": (850, 1100), "visibility_miles": (0, 100),
}


def _utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def make_event(
    event_id: str,
    event_type: str,
    event_at: dt.datetime,
    origin: str,
    carrier: str | None = None,
    flight_number: int | None = None,
    dest: str | None = None,
    tailnum: str | None = None,
    scheduled_dep_at: dt.datetime | None = None,
    **values: float | None,
) -> Event:
    """An event pushed from outside, checked as the delivered days are: the fields its type
    needs are present and readings are within physical limits (BadEvent names the problem).
    Times carry a UTC offset or are UTC; the flight's id and day are derived as stg_flights does."""
    unknown = set(values) - set(_LIMITS)
    if unknown:
        raise BadEvent(f"event {event_id!r}: unknown fields {sorted(unknown)}")
    if event_type not in _REQUIRED:
        raise BadEvent(f"event {event_id!r}: event_type {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
    given = {"origin": origin, "carrier": carrier, "flight_number": flight_number, "dest": dest,
             "scheduled_dep_at": scheduled_dep_at, **values}
    missing = [name for name in _REQUIRED[event_type] if given.get(name) is None]
    if missing:
        raise BadEvent(f"event {event_id!r}: a {event_type} event needs {', '.join(missing)}")
    for name, value in values.items():
        low, high = _LIMITS[name]
        if value is not None and not low <= value <= high:
            raise BadEvent(f"event {event_id!r}: {name} = {value} is outside [{low}, {high}]")
    if event_type == "observed":
        if carrier is not None or flight_number is not None or scheduled_dep_at is not None:
            raise BadEvent(f"event {event_id!r}: an observed event carries readings, not a flight")
        if all(values.get(name) is None for name in WEATHER_FIELDS):
            raise BadEvent(f"event {event_id!r}: an observed event needs at least one reading")
        at = _utc(event_at)
        return Event(event_id, event_type, at, local_date(at), origin=origin,
                     **{name: values.get(name) for name in WEATHER_FIELDS})
    if any(values.get(name) is not None for name in WEATHER_FIELDS):
        raise BadEvent(f"event {event_id!r}: a {event_type} event carries no weather readings")
    scheduled = _utc(scheduled_dep_at)
    day, at = local_date(scheduled), _utc(event_at)
    if not day - EVENT_DAYS_BEFORE <= local_date(at) <= day + EVENT_DAYS_AFTER:
        raise BadEvent(
            f"event {event_id!r}: event_at {event_at} is not between the day before and three days "
            f"after its flight's scheduled day {day}"
        )
    return Event(
        event_id, event_type, at, day,
        flight_id=flight_id(carrier, flight_number, origin, scheduled), scheduled_dep_at=scheduled,
        carrier=carrier, origin=origin, dest=dest, tailnum=tailnum,
        dep_delay_minutes=values.get("dep_delay_minutes"), arr_delay_minutes=values.get("arr_delay_minutes"),
    )


def push(path: Path, records: Iterable[dict]) -> tuple[int, int]:
    """Check every record (`make_event`'s fields) and store them all, or none if one is bad:
    (events new to the log, events it already held)."""
    events = [make_event(**record) for record in records]
    connection = connect(path)
    try:
        added = append(connection, events)
    finally:
        connection.close()
    return added, len(events) - added
