"""The gate judges challenger and champion on the same flights, each through its own view."""

import dagster as dg
import duckdb
import numpy as np
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1
from fti_assets.runner import failure_messages, run_once
from fti_assets.stateful import registry
from fti_assets.training_pipeline import model
from tests.conftest import SMALL_MODEL

# A v2 challenger whose test day (2013-01-04) is not the v1 champion's (2013-01-05).
V2_CHALLENGER = {"ops": {
    "training_snapshot": {"config": {"cutoff": "2013-01-04", "feature_view": "flight_disruption_v2"}},
    "flight_disruption_model": {"config": SMALL_MODEL},
}}


def test_v1_champion_is_scored_on_the_v2_challengers_test_flights(scored_copy):
    result = run_once("training_job", dg.DagsterInstance.ephemeral(), V2_CHALLENGER)
    assert result.success, failure_messages(result)

    with duckdb.connect(str(scored_copy)) as connection:
        challenger = registry.get_version(connection, 2)
        champion_model, champion = registry.load_model(connection, scored_copy.parent / "store", 1)
        test_day = challenger.metrics["periods"]["test"]
        flights = connection.sql(
            f"select flight_id from training.snapshot_{challenger.snapshot_id} "
            f"where scheduled_dep_date between '{test_day[0]}' and '{test_day[1]}'"
        ).df()
        connection.register("challenger_flights", flights)
        # The champion's own snapshot holds those flights as its view read them at prediction time.
        expected_rows = connection.sql(
            f"select c.* from training.snapshot_{champion.snapshot_id} as c "
            f"semi join challenger_flights using (flight_id) order by flight_id"
        ).df()
    compared = challenger.metrics["champion"]
    y = model.labels(expected_rows, FLIGHT_DISRUPTION_V1)
    expected = model.metrics(y, model.predict_proba(champion_model, expected_rows, FLIGHT_DISRUPTION_V1))

    assert test_day == ["2013-01-04", "2013-01-04"] and champion.metrics["periods"]["test"] == ["2013-01-05", "2013-01-05"]
    assert compared["rows"] == challenger.metrics["test"]["model"]["rows"] == len(expected_rows) > 100
    assert compared["positives"] == challenger.metrics["test"]["model"]["positives"] == int(np.sum(y))
    assert compared["roc_auc"] == pytest.approx(expected["roc_auc"], abs=1e-12)
    assert compared["roc_auc"] != pytest.approx(champion.metrics["test"]["model"]["roc_auc"], abs=1e-6)
    assert "through flight_disruption v1" in compared["basis"]
