"""Runs started by `fti` show one progress line and keep every event in a file; other runs keep
Dagster's console output."""

import io

import dagster as dg

from fti_assets.definitions import build
from fti_assets.progress import logger_config, progress_logger, stage_line


@dg.asset
def first_step() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset(deps=[first_step], check_specs=[dg.AssetCheckSpec("is_fine", asset="second_step")])
def second_step():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


def tiny_job() -> dg.JobDefinition:
    tiny = dg.Definitions(
        assets=[first_step, second_step],
        jobs=[dg.define_asset_job("tiny", executor_def=dg.in_process_executor)],
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
    )
    return tiny.get_job_def("tiny")


def test_a_quiet_run_writes_every_event_to_its_file_and_nothing_to_the_console(tmp_path, capfd):
    log_file = tmp_path / "logs" / "run.log"

    result = tiny_job().execute_in_process(run_config=logger_config("tiny", log_file, verbose=False))

    assert result.success
    assert "STEP_START" not in capfd.readouterr().err
    logged = log_file.read_text()
    assert "STEP_SUCCESS" in logged and "second_step" in logged
    assert stage_line("tiny", result, 1.0) == "tiny: 2 assets (rows: first_step 3), 0/1 checks passed, 1 warned, 1 s"


def test_a_run_without_logger_config_keeps_dagsters_console_output(capfd):
    assert tiny_job().execute_in_process().success
    assert "STEP_SUCCESS" in capfd.readouterr().err


def test_verbose_runs_print_every_event_too(tmp_path, capfd):
    tiny_job().execute_in_process(run_config=logger_config("tiny", tmp_path / "run.log", verbose=True))
    assert "STEP_SUCCESS" in capfd.readouterr().err


def test_the_progress_line_counts_steps_as_they_end(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)

    assert tiny_job().execute_in_process(run_config=logger_config("tiny", None, verbose=False)).success

    redrawn = screen.getvalue().split("\r\033[K")
    assert any(line.startswith("tiny [1 steps done] ") for line in redrawn)
    assert any(line.startswith("tiny [2 steps done] ") for line in redrawn)


def test_the_code_locations_jobs_accept_the_cli_logger_config(tmp_path):
    config = logger_config("a job", tmp_path / "run.log", verbose=True)
    for name in ("feature_job", "training_job", "inference_job", "daily_replay_job"):
        assert dg.validate_run_config(build().resolve_job_def(name), config)["loggers"].keys() == {"progress", "console"}
