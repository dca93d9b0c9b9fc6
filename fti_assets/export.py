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
    """One `<schema>.<table>.parquet` per table in `folder`; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with connect(warehouse, read_only=True) as connection:
        known = {f"{s}.{t}" for s, t in connection.sql(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()}
        for table in tables:
            if table not in known:
                raise LookupError(f"no table {table} in {warehouse}: run `fti main` first")
            target = folder / f"{table}.parquet"
            partial = folder / f".{table}.parquet.partial"
            connection.sql(f"copy (select * from {table}) to '{partial}' (format parquet)")
            os.replace(partial, target)
            written.append(target)
    return written
