"""The main job stage's figures: which run is which job, and the ratio's denominator."""

import datetime as dt
import json
import types

import pytest

from benchmarks.main_job import job_figure, main_command, run_seconds
from benchmarks.runner import main_job_ratio

INTRADAY = {"ops": {"training_snapshot": {"config": {"cutoff": "2013-11-30",
                                                      "feature_view": "flight_disruption_intraday_v2"}}}}
BATCH = {"ops": {"training_snapshot": {"config": {"cutoff": "2013-11-30"}}}}


def test_each_job_of_fti_main_has_its_figure():
    assert job_figure("feature_job", {"loggers": {}}) == "feature_job_s"
    assert job_figure("training_job", BATCH) == "training_job_s"
    assert job_figure("training_job", INTRADAY) == "intraday_training_job_s"
    assert job_figure("inference_job", {}) == "inference_job_s"


def test_a_run_counts_from_its_creation_to_its_end():
    def record(job_name, run_config, created, ended):
        run = types.SimpleNamespace(job_name=job_name, run_config=run_config)
        return types.SimpleNamespace(
            dagster_run=run, create_timestamp=dt.datetime.fromtimestamp(created, dt.UTC), end_time=ended
        )

    instance = types.SimpleNamespace(get_run_records=lambda: [
        record("feature_job", {}, 100.0, 160.0),
        record("training_job", BATCH, 170.0, 200.0),
        record("training_job", INTRADAY, 200.0, 290.0),
    ])
    assert run_seconds(instance) == {
        "feature_job_s": 60.0, "training_job_s": 30.0, "intraday_training_job_s": 90.0
    }


def test_the_ratio_is_the_main_job_over_its_work():
    main = {"seconds": 130.0, "fit_s": 60.0, "scoring_s": 5.0}
    assert main_job_ratio(main, {"seconds": 35.0}) == pytest.approx(1.3)


def test_the_command_is_fti_main_with_the_suite_window_and_model():
    ctx = {"window": ["2013-01-01", "2013-01-07"], "main_cutoff": "2013-01-06", "main_scoring_start": "2013-01-07",
           "main_model": {"max_iter": 30}}
    command = main_command(ctx)
    assert command[1:4] == ["-m", "fti_assets.cli", "main"]
    assert command[4:] == ["--start", "2013-01-01", "--end", "2013-01-07", "--cutoff", "2013-01-06",
                           "--scoring-start", "2013-01-07", "--model", json.dumps({"max_iter": 30})]
    assert "--model" not in main_command({**ctx, "main_model": None})
