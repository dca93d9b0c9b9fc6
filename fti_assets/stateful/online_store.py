"""The online store: the latest feature row per entity key, in an embedded SQLite file.

One table holds every group's rows, keyed by `<relation>:<entity>` (e.g.
`fg_route_history_v1:JFK|LAX`), with the row's event time and its values as a JSON array.
Beside it: the state (a version counting materializations, the replay clock it was taken at,
metadata) and the fingerprint of each feature view it serves. A materialization is one SQLite
transaction in WAL mode: a reader never waits for it and sees the state before or after it,
never a mix. A whole vector is one SELECT by primary keys that also returns the version, the
clock and the fingerprints, so every answer is checked against, and names, the state it read.

Values are written and read by position: the writer and the reader take the column order from
the same feature view declaration.
"""

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

DDL = (
    "create table if not exists feature_rows "
    "(key text primary key, event_at integer not null, vals text not null) without rowid",
    "create table if not exists state (id integer primary key check (id = 1), version integer not null, "
    "clock text not null, meta text not null)",
    "create table if not exists served_views (name text primary key, fingerprint text not null) without rowid",
    # How far each stream consumer has read its event log: written with the rows it produced.
    "create table if not exists stream_offsets (consumer text primary key, seq integer not null) without rowid",
)

# (entity key, event time in microseconds since the epoch, UTC, values as a JSON array)
Row = tuple[str, int, str]


class StoreMissing(FileNotFoundError):
    """No online store has been materialized at the path."""


def store_key(relation: str, entity: str) -> str:
    return f"{relation}:{entity}"


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"an online row holds a {type(value).__name__} ({value!r}), which JSON cannot store")


def encode(values: Sequence[Any]) -> str:
    """The stored form of a row's values: compact JSON, so equal rows have equal text; a
    timestamp (naive UTC, as stored everywhere) as its ISO text, which numpy reads back."""
    return json.dumps(list(values), separators=(",", ":"), allow_nan=False, default=_timestamp)


@dataclasses.dataclass(frozen=True)
class WriteSummary:
    version: int
    written: dict[str, int]
    deleted: dict[str, int]
    unchanged: dict[str, int]


def _connect(path: Path, timeout: float = 30.0) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    connection.execute("pragma journal_mode=wal")
    connection.execute("pragma synchronous=normal")
    return connection


def write(
    path: Path,
    rows: Mapping[str, Iterable[Row]],
    fingerprints: Mapping[str, str],
    clock: str,
    meta: Mapping[str, Any],
    keep: Collection[str] = (),
) -> WriteSummary:
    """Make the store hold exactly `rows` for each relation given (relations not given are
    dropped, except those in `keep`: the streamed ones), writing only the keys whose row
    changed; record the served views' fingerprints, the clock and `meta` as the new state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path)
    try:
        for statement in DDL:
            connection.execute(statement)
        written, deleted, unchanged = {}, {}, {}
        connection.execute("begin immediate")
        try:
            stored: dict[str, dict[str, tuple[int, str]]] = {}
            for key, event_at, vals in connection.execute("select key, event_at, vals from feature_rows"):
                relation, _, entity = key.partition(":")
                stored.setdefault(relation, {})[entity] = (event_at, vals)
            for relation in set(stored) - set(rows) - set(keep):
                connection.execute(
                    "delete from feature_rows where key >= ? and key < ?", (f"{relation}:", f"{relation};")
                )
                deleted[relation] = len(stored[relation])
            for relation, new_rows in rows.items():
                old = stored.get(relation, {})
                new = {entity: (event_at, vals) for entity, event_at, vals in new_rows}
                changed = [(store_key(relation, e), *row) for e, row in new.items() if old.get(e) != row]
                gone = [(store_key(relation, e),) for e in old.keys() - new.keys()]
                connection.executemany("insert or replace into feature_rows values (?, ?, ?)", changed)
                connection.executemany("delete from feature_rows where key = ?", gone)
                written[relation], deleted[relation] = len(changed), len(gone)
                unchanged[relation] = len(new) - len(changed)
            version = connection.execute("select coalesce(max(version), 0) + 1 from state").fetchone()[0]
            connection.execute(
                "insert or replace into state values (1, ?, ?, ?)",
                (version, clock, json.dumps(dict(meta), sort_keys=True, default=str)),
            )
            connection.execute("delete from served_views")
            connection.executemany("insert into served_views values (?, ?)", sorted(fingerprints.items()))
            connection.execute("commit")
        except BaseException:
            connection.execute("rollback")
            raise
    finally:
        connection.close()
    return WriteSummary(version, written, deleted, unchanged)


def stream_writer(path: Path) -> sqlite3.Connection:
    """A connection for a stream consumer's writes (`apply_stream`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path)
    for statement in DDL:
        connection.execute(statement)
    return connection


def stream_offset(connection: sqlite3.Connection, consumer: str) -> int:
    row = connection.execute("select seq from stream_offsets where consumer = ?", (consumer,)).fetchone()
    return row[0] if row else 0


def apply_stream(connection: sqlite3.Connection, rows: Mapping[str, Iterable[Row]], consumer: str, seq: int) -> None:
    """Replace the given keys' rows and move the consumer's offset to `seq`, in one transaction:
    the rows and the offset that produced them are stored together or not at all."""
    connection.execute("begin immediate")
    try:
        for relation, new_rows in rows.items():
            connection.executemany(
                "insert or replace into feature_rows values (?, ?, ?)",
                [(store_key(relation, entity), event_at, vals) for entity, event_at, vals in new_rows],
            )
        connection.execute("insert or replace into stream_offsets values (?, ?)", (consumer, seq))
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise


def read_state(path: Path) -> tuple[int, dict[str, Any]]:
    """The state's version and the metadata its materialization recorded (clock, views and
    the digests of their fingerprints' parts, rows per relation)."""
    if not path.exists():
        raise StoreMissing(f"no online store at {path}: materialize it first (asset online/online_features)")
    connection = _connect(path)
    try:
        row = connection.execute("select version, meta from state").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        connection.close()
    if row is None:
        raise StoreMissing(f"the online store {path} holds no materialization yet")
    return row[0], json.loads(row[1])


def relation_stats(path: Path) -> dict[str, tuple[int, int]]:
    """Per relation as stored: rows, and the newest event time (microseconds)."""
    connection = _connect(path)
    try:
        rows = connection.execute(
            "select substr(key, 1, instr(key, ':') - 1), count(*), max(event_at) from feature_rows group by 1"
        ).fetchall()
    finally:
        connection.close()
    return {relation: (count, newest) for relation, count, newest in rows}


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What one read saw: the state's version and clock, the served views' fingerprints, the rows."""

    version: int
    clock: str
    fingerprints: dict[str, str]
    rows: dict[str, tuple[int, str]]


class Reader:
    """Vectors by key, one SQLite connection per thread (sqlite3 connections are not shared)."""

    def __init__(self, path: Path):
        if not path.exists():
            raise StoreMissing(f"no online store at {path}: materialize it first (asset online/online_features)")
        self.path = path
        self._local = threading.local()
        self._statements: dict[int, str] = {}

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            connection.execute("pragma query_only=1")
            self._local.connection = connection
        return connection

    def _statement(self, n: int) -> str:
        statement = self._statements.get(n)
        if statement is None:
            placeholders = ", ".join("?" * n)
            # One statement: rows, version, clock and fingerprints come from one state of the store.
            statement = (
                f"select key, event_at, vals from feature_rows where key in ({placeholders}) "
                "union all select null, version, clock from state "
                "union all select '#' || name, null, fingerprint from served_views"
            )
            self._statements[n] = statement
        return statement

    def read(self, keys: Sequence[str]) -> Snapshot:
        """For each key the store holds, (event time, values JSON), with the state they belong to."""
        rows: dict[str, tuple[int, str]] = {}
        fingerprints: dict[str, str] = {}
        version, clock = 0, ""
        for key, event_at, vals in self._connection().execute(self._statement(len(keys)), keys):
            if key is None:
                version, clock = event_at, vals
            elif key[0] == "#":
                fingerprints[key[1:]] = vals
            else:
                rows[key] = (event_at, vals)
        if not version:
            raise StoreMissing(f"the online store {self.path} holds no materialization yet")
        return Snapshot(version, clock, fingerprints, rows)
