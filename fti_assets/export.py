"""`fti export`: copy warehouse tables to Parquet files that anyone may read at any time.

An open DuckDB connection, even read-only, keeps writers out of the warehouse file (and a
writer keeps it out). Ad-hoc readers therefore query exported files instead: the export
holds the warehouse's shared lock for the seconds the copy takes, and each file appears
whole (written beside, then renamed), so a reader never sees half of one.
"""

import os
from pathlib import Path

from fti_assets.stateful.warehouse import connect

DEFAULT_TABLES = ("inference.predictions",)


def export_tables(warehouse: Path, folder: Path, tables: tuple[str, ...] = DEFAULT_TABLES) -> list[Path]:
    """One `<schema>.<table>.parquet` per table in `folder`; returns the files written. Every table
    is looked up before the first file is written, so a wrong name writes nothing."""
    written = []
    with connect(warehouse, read_only=True) as connection:
        known = {f"{s}.{t}" for s, t in connection.sql(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()}
        for table in tables:
            if table not in known:
                raise LookupError(f"no table {table} in {warehouse} ({_near(table, known)})")
        folder.mkdir(parents=True, exist_ok=True)
        for table in tables:
            target = folder / f"{table}.parquet"
            partial = folder / f".{table}.parquet.partial"
            connection.sql(f"copy (select * from {table}) to '{partial}' (format parquet)")
            os.replace(partial, target)
            written.append(target)
    return written


def _near(table: str, known: set[str]) -> str:
    """What the warehouse does hold: the tables of the schema asked for, else its schemas."""
    schema = table.split(".")[0]
    in_schema = sorted(t for t in known if t.split(".")[0] == schema)
    if in_schema:
        return f"tables in {schema}: {', '.join(in_schema)}"
    schemas = sorted({t.split(".")[0] for t in known})
    return f"no schema {schema}; schemas: {', '.join(schemas)}" if schemas else "it is empty: run `fti main` first"
