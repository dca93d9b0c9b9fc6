"""Each schedule and sensor, evaluated on a temporary instance, requests a run that succeeds."""


import dagster as dg
import duckdb
import pytest

from fti_assets.automation import daily_replay_schedule, retrain_on_degradation, weekly_training
from fti_assets.definitions import build
from fti_assets.runner import failure_messages
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


def assert_trained_and_gated(result) -> None:
    """The run registered a new model version and the promotion gate judged it. Retraining on the
    same snapshot gives the same model, which does not beat the champion: the gate then blocks
    the promotion (a failed run, by design), and nothing else may fail."""
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey("flight_disruption_model") in materialized
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert [e.check_name for e in evaluations] == ["check_challenger_passes_promotion_gate"]
    if not result.success:
        assert not evaluations[0].passed
        assert all("check_challenger_passes_promotion_gate" in m for m in failure_messages(result))


def test_weekly_training_schedule_trains_on_what_the_replay_delivered(replay):
    request = weekly_training.evaluate_tick(dg.build_schedule_context(instance=replay)).run_requests[0]
    config = request.run_config
    config.setdefault("ops", {})["flight_disruption_model"] = {"config": SMALL_MODEL}

    assert_trained_and_gated(execute(request, "training_job", replay, config))


def test_degradation_sensor_requests_training_and_the_run_succeeds(replay, monkeypatch):
    context = dg.build_sensor_context(instance=replay)
    monkeypatch.setenv("FTI_RETRAIN_DAYS", "1")
    monkeypatch.setenv("FTI_RETRAIN_MIN_ROC_AUC", "0.0")
    assert isinstance(retrain_on_degradation(context), dg.SkipReason)

    monkeypatch.setenv("FTI_RETRAIN_MIN_ROC_AUC", "1.01")  # no real day can clear this floor
    request = retrain_on_degradation(context)

    assert isinstance(request, dg.RunRequest) and "ROC AUC below 1.01" in request.tags["fti/reason"]
    config = {"ops": {"training_snapshot": {"config": {"cutoff": ""}}, "flight_disruption_model": {"config": SMALL_MODEL}}}
    assert_trained_and_gated(execute(request, "training_job", replay, config))
