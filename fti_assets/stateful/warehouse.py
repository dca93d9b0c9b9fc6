"""Connections to the DuckDB warehouse, and writes that readers never see half done."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from fti_assets import settings
from fti_assets.stateful import warehouse_lock


@contextmanager
def connect(path: Path, read_only: bool = False, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writer creates its folder, a reader insists that it exists.

    The connection holds the warehouse lock (exclusive for a writer, shared for a reader)
    for its lifetime, so concurrent runs wait for each other instead of failing. `timeout`
    (seconds, default FTI_WAREHOUSE_LOCK_TIMEOUT) bounds the wait: 0 for a caller that must
    not wait, such as a schedule tick."""
    check_path(path, read_only)
    with warehouse_lock.hold(path, exclusive=not read_only, timeout=timeout):
        connection = _open(path, read_only, timeout)
        try:
            yield connection
        finally:
            connection.close()


class WarehousePathError(ValueError):
    """FTI_WAREHOUSE names something that cannot be a warehouse file."""


def check_path(path: Path, read_only: bool) -> None:
    """A readable message, naming the fix, for a warehouse path that cannot work."""
    if path.is_dir():
        raise WarehousePathError(
            f"The warehouse path {path} is a directory; set FTI_WAREHOUSE to a file in it, "
            f"e.g. {path / 'warehouse.duckdb'}."
        )
    if read_only and not path.exists():
        raise FileNotFoundError(
            f"No warehouse at {path}. Build it first: `fti main` (or set FTI_WAREHOUSE)."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WarehousePathError(
            f"Cannot create the warehouse folder {path.parent} ({error.strerror}); "
            "set FTI_WAREHOUSE to a file in a writable folder."
        ) from error


def _open(path: Path, read_only: bool, timeout: float | None) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting out a lock held by a process outside warehouse_lock (a DuckDB
    shell, a notebook): its "Could not set lock" error never reaches the user as such."""
    timeout = warehouse_lock.timeout_seconds() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return _bounded(duckdb.connect(str(path), read_only=read_only))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                raise warehouse_lock.WarehouseBusy(
                    warehouse_lock.busy_message(path, timeout, str(error).splitlines()[0])
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _bounded(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The connection with DuckDB's memory limit set (settings.duckdb_memory_limit)."""
    limit = settings.duckdb_memory_limit()
    try:
        connection.execute("set memory_limit = ?", [limit])
    except duckdb.Error as error:
        connection.close()
        raise ValueError(f"FTI_DUCKDB_MEMORY_LIMIT={limit!r} is not a memory limit DuckDB accepts: {error}") from None
    return connection


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: a failure (or a killed process) leaves the previous rows in place."""
    connection.begin()
    try:
        yield connection
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
