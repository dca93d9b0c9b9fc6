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


# Every table of the schema: scoring's own, and the drift tables monitoring reads beside them
# (a version registered before those existed has none). All are created together.
TABLES = (
    "predictions",
    "scored_features",
    *(
        table.removeprefix(f"{SCHEMA}.")
        for table in (
            feature_baselines.TABLE,
            feature_baselines.DAILY_TABLE,
            feature_baselines.THRESHOLDS_TABLE,
            segment_drift.THRESHOLDS_TABLE,
            segment_drift.DAILY_TABLE,
        )
    ),
)

# The schema's tables as the catalog has them: table name -> its column names.
Catalog = dict[str, set[str]]


def _catalog(connection: duckdb.DuckDBPyConnection) -> Catalog:
    # One duckdb_columns() query (not information_schema: a third of the time) answers every
    # question a scoring run asks of the schema: which tables exist, with which columns.
    catalog: Catalog = {}
    for table, column in connection.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = ?", [SCHEMA]
    ).fetchall():
        catalog.setdefault(table, set()).add(column)
    return catalog


def _current_catalog(connection: duckdb.DuckDBPyConnection) -> Catalog:
    """The catalog, after widening scored features that an earlier version kept long."""
    catalog = _catalog(connection)
    if {"feature", "value"} <= catalog.get("scored_features", set()):
        _widen_long_scored_features(connection)
        catalog = _catalog(connection)
    return catalog


def _create_missing_tables(connection: duckdb.DuckDBPyConnection, catalog: Catalog, features: Sequence[str]) -> None:
    """The DDL, only when a table is missing: on a warehouse that has them all, no statement runs."""
    if set(TABLES) <= set(catalog):
        return
    for statement in (*DDL, _scored_features_ddl(features), *feature_baselines.DDL, *segment_drift.DDL):
        connection.execute(statement)


def _missing_feature_columns(catalog: Catalog, features: Sequence[str]) -> list[str]:
    """Features scored_features has no column for; none when it is created now, wide with them."""
    present = catalog.get("scored_features")
    return [] if present is None else sorted(set(features) - present)


def _widen_long_scored_features(connection: duckdb.DuckDBPyConnection) -> None:
    """Warehouses written by 0.1 kept scored features long (one row per feature): pivot
    them into the wide table once, in one transaction, so no stored input is lost."""
    with transaction(connection):
        connection.execute(f"alter table {SCHEMA}.scored_features rename to scored_features_long")
        connection.execute(
            f"create table {SCHEMA}.scored_features as "
            f"pivot {SCHEMA}.scored_features_long on feature using first(value) "
            "group by flight_id, scheduled_dep_date, model_version"
        )
        connection.execute(f"drop table {SCHEMA}.scored_features_long")


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
    transaction, with whatever tables or feature columns were missing. Columns are matched by name."""
    catalog = _current_catalog(connection)

    def write(new_predictions: pa.Table, new_features: pa.Table) -> None:
        # DuckDB reads the two tables through their Python names (its replacement scan). A view
        # registered per chunk would keep every chunk alive until the transaction commits, out
        # of DuckDB's memory limit: 100x's year (33.5 M flights) ran out of memory that way.
        connection.execute(f"insert into {SCHEMA}.predictions by name select * from new_predictions")
        connection.execute(f"insert into {SCHEMA}.scored_features by name select * from new_features")

    with transaction(connection):
        _create_missing_tables(connection, catalog, features)
        for feature in _missing_feature_columns(catalog, features):
            connection.execute(f'alter table {SCHEMA}.scored_features add column "{feature}" double')
        for table in ("predictions", "scored_features"):
            connection.execute(
                f"delete from {SCHEMA}.{table} where model_version = ? and scheduled_dep_date between ? and ?",
                [model_version, start, end],
            ).fetchall()
        yield write


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
