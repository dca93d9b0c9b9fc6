"""`fti main` runs each job in a process of its own, so a job's memory is given back before the
next starts; what the child ends with still reaches the user as one message."""

import os
import signal

from fti_assets import runner
from tests.conftest import TRAINING_RUN


def _apart(tmp_path):
    log_file = tmp_path / "run.log"
    return runner.run_apart("training", "training_job", None, TRAINING_RUN, log_file, verbose=False), log_file


def test_a_job_run_apart_reports_its_step_failures(isolated_env):
    finished, log_file = _apart(isolated_env)
    assert not finished.success
    (message,) = finished.failures
    assert "does not exist" in message and "run the feature_job first" in message
    assert "STEP_FAILURE" in log_file.read_text()


def test_a_job_runs_in_another_process_and_its_result_comes_back(isolated_env, monkeypatch):
    parent = os.getpid()

    def report_pid(job_name, instance, run_config, tags):
        raise RuntimeError(f"ran in {os.getpid()}")

    monkeypatch.setattr(runner, "run_once", report_pid)
    finished, log_file = _apart(isolated_env)
    (message,) = finished.failures
    assert message.startswith("RuntimeError: ran in ") and message != f"RuntimeError: ran in {parent}"
    assert "Traceback" in log_file.read_text() and "Traceback" not in message


def test_a_child_killed_for_memory_is_named_as_such(isolated_env, monkeypatch):
    monkeypatch.setattr(runner, "run_once", lambda *args: os.kill(os.getpid(), signal.SIGKILL))
    finished, _ = _apart(isolated_env)
    assert not finished.success
    assert finished.failures == ["its process ended with exit code -9 (killed by the system: most likely out of memory)"]
