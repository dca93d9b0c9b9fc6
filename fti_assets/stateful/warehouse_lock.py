"""One writer at a time across processes: a file lock beside the warehouse.

DuckDB lets one process write a file, and while it does no other process can open it, not
even read-only (and a reader keeps writers out the same way). Dagster's `duckdb_writer` pool
orders the writing steps of runs in one instance; this lock covers everything else: runs in
another instance or an ephemeral one, asset checks outside the pool, `fti` commands, and the
dbt subprocess (its asset holds the lock around the invocation). Writers take it exclusively
and readers shared, so a process waits for the warehouse instead of failing on DuckDB's
"Could not set lock" error. A process that holds the lock may take it again (nested uses
are free); the operating system releases it when the process dies, even by SIGKILL.
"""

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TIMEOUT_ENV = "FTI_WAREHOUSE_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 3600.0
POLL_SECONDS = 0.1
# A wait is reported once it lasts this long, then every REPORT_SECONDS (pool_wait uses the same).
FIRST_REPORT_SECONDS = 1.0
REPORT_SECONDS = 30.0


class WarehouseBusy(TimeoutError):
    """The warehouse stayed locked by another process for longer than the timeout."""


def timeout_seconds() -> float:
    return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS))


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


# Locks this process holds: warehouse -> [file descriptor, exclusive, depth].
_held: dict[Path, list] = {}
_guard = threading.Lock()


@contextmanager
def hold(warehouse: Path, exclusive: bool, timeout: float | None = None) -> Iterator[None]:
    """Hold the warehouse's lock (exclusive for a writer, shared for a reader) for the block."""
    key = warehouse.resolve()
    with _guard:
        held = _held.get(key)
        if held is not None:
            if exclusive and not held[1]:
                raise RuntimeError(
                    f"this process reads {warehouse} and now asks to write it: close the read-only connection first"
                )
            held[2] += 1
    if held is not None:
        try:
            yield
        finally:
            with _guard:
                held[2] -= 1
        return

    path = lock_path(key)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, key, exclusive, timeout_seconds() if timeout is None else timeout)
        if exclusive:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}\n".encode())
        with _guard:
            _held[key] = [fd, exclusive, 1]
        try:
            yield
        finally:
            with _guard:
                del _held[key]
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, warehouse: Path, exclusive: bool, timeout: float) -> None:
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    started = time.monotonic()
    report_at = started + FIRST_REPORT_SECONDS
    while True:
        try:
            fcntl.flock(fd, mode)
            return
        except BlockingIOError:
            now = time.monotonic()
            if now - started >= timeout:
                raise WarehouseBusy(busy_message(warehouse, timeout)) from None
            if now >= report_at:
                print(f"waiting for the warehouse {warehouse} for {now - started:.0f} s: {holder(warehouse)}",
                      file=sys.stderr, flush=True)
                report_at = now + REPORT_SECONDS
            time.sleep(POLL_SECONDS)


def _last_writer(warehouse: Path) -> str:
    """What the last process to take the lock exclusively wrote in it (`pid N: command`), or ''."""
    try:
        return lock_path(warehouse).read_text().strip()
    except OSError:
        return ""


def holder(warehouse: Path) -> str:
    """Who holds the lock, as its last writer recorded (the lock dies with its process, so a
    recorded process that is gone means a reader, or a process outside the project, holds it)."""
    recorded = _last_writer(warehouse)
    if not recorded.startswith("pid "):
        return "held by a reader or by a process outside the project (a DuckDB shell, a notebook)"
    pid = int(recorded.split(":", 1)[0].removeprefix("pid "))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"held by a reader or by a process outside the project (the last writer, {recorded}, is gone)"
    except PermissionError:
        pass
    return f"held by {recorded}, process alive"


def busy_message(warehouse: Path, timeout: float, detail: str = "") -> str:
    holder = _last_writer(warehouse)
    return (
        f"The warehouse {warehouse} stayed busy for {timeout:.0f} s"
        + (f" (last writer: {holder})" if holder else "")
        + (f": {detail}" if detail else "")
        + f". Wait for that run to finish and retry, or raise {TIMEOUT_ENV}. "
        "Read the warehouse from another tool through `fti export` (files) rather than an open connection."
    )
