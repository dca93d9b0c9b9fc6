"""Training from a snapshot built on Spark: the same rows as DuckDB's, the same model."""

import json
import shutil

import dagster as dg
import duckdb
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.runner import failure_messages, run_once
from fti_assets.training_pipeline import snapshot
from tests.conftest import SMALL_MODEL, SPARK_DAYS
from tests.stateful.test_spark import assert_same_rows, duckdb_frame

CUTOFF = SPARK_DAYS[-1]


def test_spark_snapshot_rows_equal_duckdb_snapshot(spark_replayed):
    _, env, _, parquet = spark_replayed
    with duckdb.connect(env["FTI_WAREHOUSE"], read_only=True) as connection:
        duck = duckdb_frame(connection, snapshot.training_rows_sql(VIEW, CUTOFF))
        spark = duckdb_frame(connection, snapshot.parquet_rows_sql(connection, VIEW, parquet))
    assert list(spark.columns) == list(duck.columns)
    assert_same_rows(duck, spark, list(VIEW.keys))


def _train(monkeypatch, folder, snapshot_config: dict) -> dict:
    monkeypatch.setenv("FTI_WAREHOUSE", str(folder / "warehouse.duckdb"))
    monkeypatch.setenv("FTI_MODEL_STORE", str(folder / "store"))
    run = {"ops": {"training_snapshot": {"config": snapshot_config}, "flight_disruption_model": {"config": SMALL_MODEL}}}
    result = run_once("training_job", dg.DagsterInstance.ephemeral(), run)
    assert result.success, failure_messages(result)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        snapshot_id, rows, metrics = connection.sql(
            "select v.snapshot_id, s.rows, v.metrics from registry.model_versions v "
            "join training.snapshots s using (snapshot_id) where v.version = 1"
        ).fetchall()[0]
    return {"snapshot_id": snapshot_id, "rows": rows, "test": json.loads(metrics)["test"]}


def test_training_job_trains_the_same_model_from_spark_parquet(spark_replayed, tmp_path, monkeypatch):
    """A warehouse without any feature table trains from the Spark snapshot's Parquet; the
    model equals the one trained on DuckDB's own snapshot of the same day."""
    root, _, _, parquet = spark_replayed
    on_duckdb = tmp_path / "duckdb"
    on_duckdb.mkdir()
    shutil.copy(root / "warehouse.duckdb", on_duckdb / "warehouse.duckdb")
    from_spark = tmp_path / "from_spark"
    expected = _train(monkeypatch, on_duckdb, {"cutoff": str(CUTOFF)})
    trained = _train(monkeypatch, from_spark, {"cutoff": str(CUTOFF), "parquet": str(parquet)})
    with duckdb.connect(str(from_spark / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.sql("select count(*) from information_schema.tables where table_schema = 'features'").fetchall() == [(0,)]
    assert trained["rows"] == expected["rows"] > 0
    assert trained["test"]["model"] == pytest.approx(expected["test"]["model"])
    assert trained["test"]["baseline"] == pytest.approx(expected["test"]["baseline"])


def test_parquet_snapshot_needs_its_cutoff(spark_replayed, tmp_path, monkeypatch):
    _, _, _, parquet = spark_replayed
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("FTI_MODEL_STORE", str(tmp_path / "store"))
    result = run_once("training_job", dg.DagsterInstance.ephemeral(), {"ops": {"training_snapshot": {"config": {"parquet": str(parquet)}}}})
    assert not result.success
    assert "needs the cutoff it was built for" in "\n".join(failure_messages(result))


def test_parquet_rows_of_another_shape_are_refused(tmp_path):
    rows = tmp_path / "rows.parquet"
    with duckdb.connect() as connection:
        connection.sql(f"copy (select 'f1' as flight_id, date '2013-03-08' as scheduled_dep_date) to '{rows}' (format parquet)")
        with pytest.raises(ValueError, match=r"does not hold flight_disruption v1 snapshot rows: missing columns \['carrier'"):
            snapshot.parquet_rows_sql(connection, VIEW, rows)
        with pytest.raises(FileNotFoundError, match="no snapshot rows at"):
            snapshot.parquet_rows_sql(connection, VIEW, tmp_path / "missing")
