"""The `inference` schema: predictions and the features they were scored with (drift baselines:
stateful/feature_baselines.py, stateful/segment_drift.py).

A day is replaced whole inside one transaction, so a reader sees the old day or the new one,
never half of either, and a re-run never doubles a day.
"""

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import duckdb
import pyarrow as pa

from fti_assets.stateful import feature_baselines, segment_drift
from fti_assets.stateful.warehouse import transaction

SCHEMA = "inference"

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.predictions (
        flight_id varchar not null,
        scheduled_dep_date date not null,
        scheduled_dep_at timestamp not null,
        prediction_at timestamp not null,
        carrier varchar,
        origin varchar,
        dest varchar,
        probability double not null,
        predicted_disrupted boolean not null,
        threshold double not null,
        model_version integer not null,
        feature_view varchar not null,
        feature_view_version integer not null,
        fingerprint varchar not null,
        snapshot_id varchar not null,
        scored_at timestamp not null,
        dagster_run_id varchar
    )""",
)


def _scored_features_ddl(features: Sequence[str]) -> str:
    """The numeric inputs each prediction saw, one row per flight and model version: a column per
    feature, created with the table or added when a model first reads it (NULL where a model
    does not read it). Created wide, a new warehouse skips one ALTER per feature; in sorted
    order, as the ALTERs add them."""
    columns = "".join(f',\n        "{feature}" double' for feature in sorted(features))
    return f"""create table if not exists {SCHEMA}.scored_features (
        flight_id varchar not null,
        scheduled_dep_date date not null,
        model_version integer not null{columns}
    )"""


def ensure_schema(connection: duckdb.DuckDBPyConnection, features: Sequence[str] = ()) -> None:
    for statement in (*DDL, _scored_features_ddl(features)):
        connection.sql(statement)
    _widen_long_scored_features(connection)
    # Monitoring reads the drift tables beside these; a version registered before they existed has none.
    feature_baselines.ensure_schema(connection)
    segment_drift.ensure_schema(connection)


def _columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    # duckdb_columns(), not information_schema: a third of the time, paid on every scoring run.
    return {name for (name,) in connection.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?", [SCHEMA, table]
    ).fetchall()}


def _widen_long_scored_features(connection: duckdb.DuckDBPyConnection) -> None:
    """Warehouses written by 0.1 kept scored features long (one row per feature): pivot
    them into the wide table once, in one transaction, so no stored input is lost."""
    if not {"feature", "value"} <= _columns(connection, "scored_features"):
        return
    with transaction(connection):
        connection.sql(f"alter table {SCHEMA}.scored_features rename to scored_features_long")
        connection.sql(
            f"create table {SCHEMA}.scored_features as "
            f"pivot {SCHEMA}.scored_features_long on feature using first(value) "
            "group by flight_id, scheduled_dep_date, model_version"
        )
        connection.sql(f"drop table {SCHEMA}.scored_features_long")


@contextlib.contextmanager
def window_writer(
    connection: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    model_version: int,
    features: Sequence[str],
) -> Iterator[Callable[[pa.Table, pa.Table], None]]:
    """Replace the model version's rows for days start..end: the old rows go and the Arrow
    tables (or frames) given to `write(predictions, scored_features)` come in, all in one
    transaction. Columns are matched by name."""
    ensure_schema(connection, features)

    def write(predictions: pa.Table, scored_features: pa.Table) -> None:
        connection.register("new_predictions", predictions)
        connection.register("new_features", scored_features)
        connection.sql(f"insert into {SCHEMA}.predictions by name select * from new_predictions")
        connection.sql(f"insert into {SCHEMA}.scored_features by name select * from new_features")

    try:
        with transaction(connection):
            for feature in sorted(set(features) - _columns(connection, "scored_features")):
                connection.sql(f'alter table {SCHEMA}.scored_features add column "{feature}" double')
            for table in ("predictions", "scored_features"):
                connection.execute(
                    f"delete from {SCHEMA}.{table} where model_version = ? and scheduled_dep_date between ? and ?",
                    [model_version, start, end],
                ).fetchall()
            yield write
    finally:
        # After the transaction ends: DuckDB refuses even this inside an aborted one.
        connection.unregister("new_predictions")
        connection.unregister("new_features")


def coverage_problems(
    connection: duckdb.DuckDBPyConnection, spine_relation: str, start: dt.date, end: dt.date, model_version: int
) -> list[str]:
    """What is wrong with the stored predictions of a window: flights missing, doubled or unknown."""
    rows = connection.execute(
        f"""
        with expected as (
            select flight_id from features.{spine_relation} where scheduled_dep_date between $1 and $2
        ),
        scored as (
            select flight_id, count(*) as n from {SCHEMA}.predictions
            where model_version = $3 and scheduled_dep_date between $1 and $2
            group by flight_id
        )
        select 'missing' as problem, expected.flight_id from expected anti join scored using (flight_id)
        union all
        select 'scored ' || n || ' times', flight_id from scored where n > 1
        union all
        select 'not on the schedule', flight_id from scored anti join expected using (flight_id)
        order by 1, 2
        """,
        [start, end, model_version],
    ).fetchall()
    return [f"{flight_id}: {problem}" for problem, flight_id in rows]


def probability_problems(
    connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, model_version: int
) -> list[str]:
    rows = connection.execute(
        f"""select flight_id, probability from {SCHEMA}.predictions
        where model_version = ? and scheduled_dep_date between ? and ?
            and (probability is null or isnan(probability) or probability < 0 or probability > 1)
        order by flight_id""",
        [model_version, start, end],
    ).fetchall()
    return [f"{flight_id}: probability {p}" for flight_id, p in rows]
