"""Batch predictions on a few replay days: what they contain, and the checks that guard them."""

import shutil

import dagster as dg
import duckdb
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.inference_pipeline import predictions_table
from fti_assets.runner import failure_messages, run_window
from fti_assets.stateful import feature_baselines, registry
from fti_assets.training_pipeline import model as training_model
from tests.conftest import DAY, LAST


def query(folder, sql: str, params=None):
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def predictions(folder) -> list[tuple]:
    return query(folder, "select * exclude (scored_at, dagster_run_id) from inference.predictions order by all")


def test_every_flight_of_the_day_is_scored_once_with_its_lineage(scored):
    folder, _ = scored
    expected = query(folder, "select count(*) from features.flight_spine_v1 where scheduled_dep_date = ?", [LAST])
    assert query(folder, "select count(*), count(distinct flight_id) from inference.predictions") == [(expected[0][0],) * 2]
    lineage = query(folder, """
        select distinct p.model_version, p.fingerprint = v.fingerprint, p.snapshot_id = v.snapshot_id
        from inference.predictions p join registry.model_versions v on p.model_version = v.version""")
    assert lineage == [(1, True, True)]


def test_predictions_equal_the_model_on_its_own_training_rows(scored):
    """The training snapshot holds the same day's rows (those labelled by the cutoff), built by the
    training path: scoring them by hand with the registered model gives the stored probabilities."""
    folder, _ = scored
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        pipeline, version = registry.load_model(connection, folder / "store", "champion")
        table = connection.execute("select table_name from training.snapshots where snapshot_id = ?", [version.snapshot_id]).fetchall()[0][0]
        rows = connection.sql(f"select * from {table} where scheduled_dep_date = date '{DAY}' order by flight_id").df()
        stored = connection.sql("select flight_id, probability from inference.predictions order by flight_id").df()
    by_hand = training_model.predict_proba(pipeline, rows, VIEW)
    assert len(rows) > 0.8 * len(stored)
    same_flights = stored.set_index("flight_id").loc[rows["flight_id"], "probability"]
    assert same_flights.tolist() == by_hand.tolist()


def test_rerunning_a_day_leaves_identical_rows(scored, tmp_path, monkeypatch):
    folder, env = scored
    shutil.copytree(folder, tmp_path / "copy")
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace(str(folder), str(tmp_path / "copy")))
    before = predictions(tmp_path / "copy")

    result = run_window("inference_job", DAY, DAY, dg.DagsterInstance.ephemeral())

    assert result.success, failure_messages(result)
    assert predictions(tmp_path / "copy") == before


@pytest.mark.parametrize("tamper, problem", [
    ("delete from inference.predictions where flight_id = (select min(flight_id) from inference.predictions)", "missing"),
    ("insert into inference.predictions select * from inference.predictions limit 1", "scored 2 times"),
])
def test_coverage_check_finds_a_missing_or_doubled_flight(scored, tmp_path, tamper, problem):
    folder, _ = scored
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(folder / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        assert predictions_table.coverage_problems(connection, VIEW.spine_relation, LAST, LAST, 1) == []
        connection.sql(tamper)
        problems = predictions_table.coverage_problems(connection, VIEW.spine_relation, LAST, LAST, 1)
    assert len(problems) == 1 and problem in problems[0]


def test_probability_check_finds_values_outside_the_unit_interval(scored, tmp_path):
    folder, _ = scored
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(folder / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        connection.sql("update inference.predictions set probability = 1.5 where flight_id = (select min(flight_id) from inference.predictions)")
        problems = predictions_table.probability_problems(connection, LAST, LAST, 1)
    assert len(problems) == 1 and "probability 1.5" in problems[0]


def test_monitoring_models_are_built_over_the_predictions(scored):
    folder, _ = scored
    daily = query(folder, "select scheduled_dep_date, labelled_flights, roc_auc from monitoring.mon_daily_performance")
    assert len(daily) == 1 and daily[0][0] == LAST and daily[0][1] > 0 and 0 <= daily[0][2] <= 1
    # PSI values themselves are checked against numpy in test_monitoring_metrics.py.
    drift = query(folder, "select count(distinct feature), count(*), count(psi) from monitoring.mon_feature_drift")
    assert drift == [(len(feature_baselines.monitored(VIEW.numeric_features)),) * 3]
