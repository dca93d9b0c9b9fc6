"""Served predictions as data: appended to JSON-lines files by the service, loaded into
DuckDB (`inference.online_predictions`) by an asset, so the warehouse lock is never on the
request path.

Each service process appends to its own file. The loader remembers how many bytes of each file
it has loaded, in the same transaction as the rows, and reads only whole lines: every line
lands exactly once, even when the loader runs while the service writes or is killed midway.
"""

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from fti_assets.stateful.warehouse import transaction

SCHEMA = "inference"
TABLE = f"{SCHEMA}.online_predictions"
OFFSETS = f"{SCHEMA}.online_prediction_log_offsets"

COLUMNS = {
    "request_id": "varchar not null",
    "served_at": "timestamp not null",
    "flight_id": "varchar not null",
    "scheduled_dep_date": "date not null",
    "scheduled_dep_at": "timestamp not null",
    "prediction_at": "timestamp not null",
    "carrier": "varchar not null",
    "flight_number": "integer not null",
    "origin": "varchar not null",
    "dest": "varchar not null",
    "tailnum": "varchar",
    "probability": "double not null",
    "predicted_disrupted": "boolean not null",
    "threshold": "double not null",
    "model_version": "integer not null",
    "feature_view": "varchar not null",
    "feature_view_version": "integer not null",
    "fingerprint": "varchar not null",
    "store_version": "integer not null",
    "latency_ms": "double not null",
    "batch_size": "integer not null",
    "features": "json not null",
}

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"create table if not exists {TABLE} "
    f"({', '.join(f'{c} {t}' for c, t in COLUMNS.items())}, log_file varchar not null)",
    f"create table if not exists {OFFSETS} (log_file varchar primary key, bytes_loaded bigint not null)",
)


class PredictionLog:
    """Appends records, one JSON line each, to `<folder>/served-<pid>-<start>.jsonl`."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        started = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        self.path = folder / f"served-{os.getpid()}-{started}.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def append(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in records)
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.sql(statement)


def load(connection: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Load the whole lines appended since the last load; returns rows loaded per file."""
    ensure_schema(connection)
    loaded: dict[str, int] = {}
    if not folder.exists():
        return loaded
    offsets = dict(connection.sql(f"select log_file, bytes_loaded from {OFFSETS}").fetchall())
    for path in sorted(folder.glob("served-*.jsonl")):
        start = offsets.get(path.name, 0)
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        if end == 0:
            continue
        records = [json.loads(line) for line in data[:end].splitlines()]
        frame = pd.DataFrame.from_records(records, columns=list(COLUMNS)).assign(log_file=path.name)
        frame["features"] = frame["features"].map(lambda f: json.dumps(f, separators=(",", ":")))
        connection.register("new_online_predictions", frame)
        try:
            with transaction(connection):
                casts = ", ".join(f"cast({c} as {COLUMNS[c].split()[0]}) as {c}" for c in COLUMNS)
                connection.sql(f"insert into {TABLE} by name select {casts}, log_file from new_online_predictions")
                connection.execute(
                    f"insert or replace into {OFFSETS} values (?, ?)", [path.name, start + end]
                ).fetchall()
        finally:
            connection.unregister("new_online_predictions")
        loaded[path.name] = len(records)
    return loaded
