"""Each schedule and sensor, evaluated on a temporary instance, requests a run that succeeds."""


import dagster as dg
import duckdb
import pytest

from fti_assets.automation import daily_replay_schedule, retrain_on_degradation, weekly_training
from fti_assets.definitions import build
from fti_assets.runner import failure_messages
from fti_assets.training_pipeline.retraining import why_not_retrain
from tests.conftest import SMALL_MODEL


@pytest.fixture
def replay(scored_copy):
    """A private copy of the scored warehouse and model store, and a fresh instance."""
    with dg.instance_for_test() as instance:
        yield instance


def execute(request: dg.RunRequest, job_name: str, instance, run_config=None):
    job = build().get_job_def(request.job_name or job_name)
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config=run_config or request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )


def test_replay_schedule_moves_the_replay_one_day_at_a_time(replay):
    first = daily_replay_schedule(dg.build_schedule_context(instance=replay))
    assert isinstance(first, dg.RunRequest) and first.partition_key == "2013-01-01"

    result = execute(first, "daily_replay_job", replay)

    assert result.success, failure_messages(result)
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {dg.AssetKey(["raw", "flights"]), dg.AssetKey(["inference", "batch_predictions"]),
            dg.AssetKey(["monitoring", "mon_daily_performance"])} <= materialized
    second = daily_replay_schedule(dg.build_schedule_context(instance=replay))
    assert second.partition_key == "2013-01-02"


def test_replay_schedule_skips_without_a_champion(replay, tmp_path, monkeypatch):
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "empty.duckdb"))
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    assert isinstance(daily_replay_schedule(dg.build_schedule_context(instance=replay)), dg.SkipReason)


def assert_trained_and_rejected(result, warehouse) -> None:
    """The run registered a new model version and the gate judged it. Retraining on the same
    snapshot gives the same model, which does not beat the champion on the same flights: it is
    recorded as rejected with the reason, the champion is kept, and the run succeeds."""
    assert result.success, failure_messages(result)
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert {dg.AssetKey("flight_disruption_model"), dg.AssetKey("champion_promotion")} <= materialized
    evaluations = result.get_asset_check_evaluations()
    assert [(e.check_name, e.passed, e.severity) for e in evaluations] == [
        ("check_challenger_passes_promotion_gate", False, dg.AssetCheckSeverity.WARN)
    ]
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        decisions = connection.sql("select version, outcome, champion_version, reason from registry.gate_decisions order by version").fetchall()
        champion = connection.sql("select version from registry.alias_history where alias = 'champion' and valid_to is null").fetchall()
    assert [d[:3] for d in decisions] == [(1, "promoted", None), (2, "rejected", 1)]
    assert "does not beat the champion's" in decisions[1][3]
    assert champion == [(1,)]


def test_weekly_training_skips_when_no_labels_arrived_since_the_champion(replay, scored_copy):
    tick = weekly_training.evaluate_tick(dg.build_schedule_context(instance=replay))

    assert not tick.run_requests
    assert "no labels arrived since the champion's snapshot (model version 1, cutoff 2013-01-05" in tick.skip_message


def test_weekly_training_trains_when_labels_arrived(replay, scored_copy):
    with duckdb.connect(str(scored_copy)) as connection:  # as if the champion had been trained a day earlier
        connection.sql("update training.snapshots set cutoff = date '2013-01-04'")
    with duckdb.connect(str(scored_copy), read_only=True) as connection:
        assert why_not_retrain(connection) is None

    tick = weekly_training.evaluate_tick(dg.build_schedule_context(instance=replay))

    assert [r.run_config["ops"]["training_snapshot"]["config"]["cutoff"] for r in tick.run_requests] == [""]


def test_degradation_sensor_requests_training_and_the_run_succeeds(replay, scored_copy, monkeypatch):
    context = dg.build_sensor_context(instance=replay)
    monkeypatch.setenv("FTI_RETRAIN_DAYS", "1")
    monkeypatch.setenv("FTI_RETRAIN_MIN_ROC_AUC", "0.0")
    assert isinstance(retrain_on_degradation(context), dg.SkipReason)

    monkeypatch.setenv("FTI_RETRAIN_MIN_ROC_AUC", "1.01")  # no real day can clear this floor
    request = retrain_on_degradation(context)

    assert isinstance(request, dg.RunRequest) and "ROC AUC below 1.01" in request.tags["fti/reason"]
    config = {"ops": {"training_snapshot": {"config": {"cutoff": ""}}, "flight_disruption_model": {"config": SMALL_MODEL}}}
    assert_trained_and_rejected(execute(request, "training_job", replay, config), scored_copy)


def test_replay_schedule_stops_after_a_day_that_failed_its_checks(replay, scored_copy, monkeypatch):
    import datetime as dt

    from fti_assets.automation import schedules
    from fti_assets.stateful import day_validation

    with duckdb.connect(str(scored_copy)) as connection:
        day_validation.record_failed(connection, dt.date(2013, 1, 1), dt.date(2013, 1, 1),
                                     [day_validation.FailedCheck("unique_stg_flights_flight_id", None)])
    monkeypatch.setattr(schedules, "next_replay_day", lambda instance: "2013-01-02")

    skipped = daily_replay_schedule(dg.build_schedule_context(instance=replay))

    assert isinstance(skipped, dg.SkipReason)
    assert "replay day 2013-01-01 failed its checks (unique_stg_flights_flight_id)" in skipped.skip_message
