"""The leakage audit stops a snapshot whose single column predicts the label; the tail-number
proxy is not in training rows; rebuilding from data altered after a cutoff changes nothing before it."""

import datetime as dt
import shutil

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.runner import failure_messages, run_once, run_window
from fti_assets.training_pipeline import leakage, snapshot
from tests.conftest import FIRST, LAST, SMALL_MODEL, write_source_subset
from tests.feature_pipeline.test_feature_job import FEATURE_TABLES, rows
from tests.training_pipeline import synthetic
from tests.training_pipeline.test_training import CUTOFF


@pytest.fixture
def frame(tmp_path) -> pd.DataFrame:
    path = tmp_path / "w.duckdb"
    synthetic.build(path, VIEW)
    with duckdb.connect(str(path)) as connection:
        built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
        return snapshot.read_snapshot(connection, built.table_name, VIEW)


def test_an_honest_snapshot_passes_the_audit(frame):
    scores = leakage.audit(frame, VIEW)
    assert set(VIEW.features) <= set(scores) and max(scores.values()) < leakage.MAX_ROC_AUC


def test_the_audit_auc_is_roc_auc_score():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(5000) < 0.2
    # -0.0 and 0.0 tie, as in a sort (adding to -0.0 would make it 0.0: chosen, not summed).
    signed_zeros = np.where(rng.random(5000) < 0.3, 1.0, np.where(y, -0.0, 0.0))
    for score in (
        rng.normal(size=5000).round(1),
        rng.random(5000) < 0.1,
        (rng.random(5000) < 0.1).astype(float),
        y * 1.0 + rng.random(5000),
        signed_zeros,
    ):
        expected = roc_auc_score(y, score)
        assert leakage._symmetric_auc(y, score) == pytest.approx(max(expected, 1 - expected), abs=1e-12)
    assert leakage._symmetric_auc(y, np.ones(5000)) is None
    assert leakage._symmetric_auc(y, np.ones(5000, dtype=bool)) is None
    assert leakage._symmetric_auc(np.zeros(5000, dtype=bool), score) is None


@pytest.mark.parametrize(
    ("leak", "column"),
    [
        (lambda f, y: f.assign(distance_miles=np.where(y, 2000.0, 100.0)), "distance_miles"),
        (lambda f, y: f.assign(plane_age_years=f["plane_age_years"].where(~y)), "plane_age_years missingness"),
        (lambda f, y: f.assign(carrier=np.where(y, "XX", f["carrier"])), "carrier"),
    ],
)
def test_a_column_that_alone_predicts_the_label_stops_training(frame, leak, column):
    y = frame[VIEW.label].astype(bool).to_numpy()
    with pytest.raises(leakage.LeakageFound, match=rf"{column} \(ROC AUC 1\.000\)"):
        leakage.audit(leak(frame, y), VIEW)


def test_the_leakage_audit_stops_registration(scored_copy):
    config = {"ops": {"training_snapshot": {"config": {"cutoff": str(LAST)}},
                      "flight_disruption_model": {"config": {**SMALL_MODEL, "max_single_feature_roc_auc": 0.51}}}}
    result = run_once("training_job", dg.DagsterInstance.ephemeral(), config)

    assert not result.success
    message = "\n".join(failure_messages(result))
    assert "leakage audit:" in message and "alone predict(s) is_disrupted at or above ROC AUC 0.51" in message, message
    assert rows(scored_copy, "select count(*) from registry.model_versions") == [(1,)]


def test_flights_without_a_tail_number_are_not_training_rows(scored):
    folder, _ = scored
    warehouse = folder / "warehouse.duckdb"
    table = rows(warehouse, "select table_name from training.snapshots")[0][0]
    # In the data, every flight without a tail number is cancelled: a record of the outcome.
    assert rows(warehouse, f"select count(*) > 0, bool_and(is_disrupted) from features.{VIEW.spine_relation} where tailnum is null") == [(True, True)]
    assert rows(warehouse, f"select count(*) from {table} join features.{VIEW.spine_relation} s using (flight_id) where s.tailnum is null") == [(0,)]


CUTOFF_DAY = dt.date(2013, 1, 3)


def altered_after(folder, cutoff: dt.date):
    """Every flight and observation after the cutoff day altered (delays doubled plus an hour,
    a tenth of flights dropped, 20 degrees warmer); nothing on or before it touched."""
    flights = pd.read_csv(folder / "flights.csv")
    later = pd.to_datetime(flights[["year", "month", "day"]]).dt.date > cutoff
    for column in ("dep_delay", "arr_delay"):
        flights.loc[later, column] = flights.loc[later, column] * 2 + 60
    flights = flights[~later | (np.arange(len(flights)) % 10 != 0)]
    flights.to_csv(folder / "flights.csv", index=False)
    weather = pd.read_csv(folder / "weather.csv")
    weather.loc[pd.to_datetime(weather[["year", "month", "day"]]).dt.date > cutoff, "temp"] += 20
    weather.to_csv(folder / "weather.csv", index=False)
    return folder


def test_data_altered_after_a_cutoff_changes_nothing_before_it(built, isolated_env, monkeypatch):
    """The metamorphic test: the same replay from data that differs only after the cutoff."""
    clean_root, _ = built
    clean = isolated_env / "clean.duckdb"
    shutil.copy(clean_root / "warehouse.duckdb", clean)
    monkeypatch.setenv("FTI_SOURCE_DIR", str(altered_after(write_source_subset(isolated_env / "altered", FIRST, LAST), CUTOFF_DAY)))
    replay = run_window("feature_job", str(FIRST), str(LAST), dg.DagsterInstance.ephemeral())
    assert replay.success, failure_messages(replay)
    altered = isolated_env / "warehouse" / "warehouse.duckdb"

    # Everything known before the cutoff day ended: spine rows of its flights, feature rows stamped
    # before its last instant (an observation at the next local midnight is the next day's).
    known_by = snapshot.end_of_local_day_utc(CUTOFF_DAY)
    for table in FEATURE_TABLES:
        spine = table.startswith("flight_spine")
        before = (f"select * from features.{table} where "
                  + (f"scheduled_dep_date <= '{CUTOFF_DAY}'" if spine else f"event_at < '{known_by}'") + " order by all")
        assert rows(altered, before) == rows(clean, before) != [], table
    later = f"select count(*) from features.{VIEW.spine_relation} where scheduled_dep_date > '{CUTOFF_DAY}'"
    assert rows(altered, later) != rows(clean, later)  # the alteration did reach the later days
    ids = []
    for warehouse in (clean, altered):
        with duckdb.connect(str(warehouse)) as connection:
            built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF_DAY)
            ids.append((built.snapshot_id, built.rows))
    assert ids[0] == ids[1] and ids[0][1] > 0
