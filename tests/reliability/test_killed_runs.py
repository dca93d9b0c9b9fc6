"""Killed, then run again: `fti main` SIGKILLed during each of its jobs, and a daily replay run
killed mid-dbt, finish on the next try without help and leave what an uninterrupted run leaves.

One `fti main` is killed during the feature job; run again, it is killed during the batch
training; run again, during the intraday training, then scoring, then the online store's
materialization; the last run finishes. Each run resumes where the one before died (the jobs
it completed are not run again), so each kill is followed by a run that gets past it. An uninterrupted run of the same window runs beside
it, and every feature, snapshot, registry and prediction row of the two must be equal."""

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fti_assets import settings
from fti_assets.resources import WAREHOUSE_POOL
from tests.conftest import SMALL_MODEL, write_source_subset

MAIN_WINDOW = ["--start", "2013-01-01", "--end", "2013-01-05", "--cutoff", "2013-01-04", "--scoring-start", "2013-01-05"]
REPLAY_DAY = "2013-01-06"
# Where each kill lands: the n-th start of a step in the run's event log (the intraday model is
# the second training run's fit), and how long after it.
KILLS = [
    ("feature job, mid-dbt", "dbt_models", 1, 2.0),
    ("batch training", "flight_disruption_model", 1, 0.3),
    ("intraday training", "flight_disruption_model", 2, 0.3),
    ("scoring", "inference__batch_predictions", 1, 0.3),
    ("online materialization", "online__online_features", 1, 0.1),
]
# Columns that name when or by which run a row was written, or the bytes of a file (a model
# saved twice is two zips with their own timestamps; its predictions are compared instead).
VOLATILE = {"created_at", "scored_at", "dagster_run_id", "decided_at", "valid_from", "valid_to", "loaded_at",
            "updated_at", "materialized_at", "artifact_sha256", "artifact_path"}


def _environment(root: Path, source: Path) -> dict:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(settings.REPO_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(home), "FTI_SOURCE_DIR": str(source),
            "FTI_WAREHOUSE": str(root / "warehouse.duckdb"), "FTI_MODEL_STORE": str(root / "store")}


def _start_main(env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "fti_assets.cli", "main", *MAIN_WINDOW, "--model", json.dumps(SMALL_MODEL)]
    return subprocess.Popen(command, env=env, cwd=settings.REPO_ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _newest_log(env: dict, since: float) -> Path | None:
    logs = [p for p in (Path(env["FTI_WAREHOUSE"]).parent / "logs").glob("*.log") if p.stat().st_mtime >= since]
    return max(logs, key=lambda p: p.stat().st_mtime, default=None)


def _kill_at(
    process: subprocess.Popen, log: callable, step: str, nth: int, after: float, sig: int = signal.SIGKILL
) -> tuple[str, str]:
    """Signal the process group once `step` has started `nth` times in the run's log (SIGINT is
    what a terminal's Ctrl-C sends the foreground group); its stdout and stderr."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        path = log()
        if path is not None and path.read_text().count(f" - {step} - STEP_START - ") >= nth:
            time.sleep(after)
            os.killpg(process.pid, sig)
            return process.communicate(timeout=120)
        assert process.poll() is None, f"the run ended before {step} started:\n{process.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"{step} did not start within 300 s")


def _state(warehouse: Path) -> dict:
    """Every row of features, snapshots, registry and predictions, less VOLATILE columns; metrics
    without the fit's wall time."""
    state = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.sql(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('features', 'training', 'registry', 'inference') order by all"
        ).fetchall()
        for (table,) in tables:
            columns = [c for (c,) in connection.sql(f"select column_name from (describe {table})").fetchall()
                       if c not in VOLATILE]
            rows = connection.sql(f"select {', '.join(columns)} from {table} order by all").fetchall()
            if "metrics" in columns:
                at = columns.index("metrics")
                rows = [(*r[:at], _without_fit_time(r[at]), *r[at + 1:]) for r in rows]
            state[table] = rows
    return state


def _without_fit_time(metrics: str) -> dict:
    parsed = json.loads(metrics)
    parsed.pop("fit_seconds", None)
    return parsed


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return write_source_subset(tmp_path_factory.mktemp("source"), dt.date(2013, 1, 1), dt.date(2013, 1, 6))


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory):
    """An uninterrupted `fti main` of the window, started at once and awaited by who reads it, so
    that it runs beside the killed runs (the two cores share the work): its environment."""
    env = _environment(tmp_path_factory.mktemp("reference"), source)
    process = _start_main(env)

    def finished() -> dict:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        return env

    yield finished
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def test_fti_main_killed_during_each_job_finishes_when_run_again_and_equals_an_uninterrupted_run(
    source, reference, tmp_path, monkeypatch
):
    env = _environment(tmp_path, source)
    for stage, step, nth, after in KILLS:
        started = time.time()
        output, _ = _kill_at(_start_main(env), lambda s=started: _newest_log(env, s), step, nth, after)
        assert "failed" not in output, f"the run killed during {stage} had failed before:\n{output}"
    # Then a Ctrl-C during the scoring: one line, the run canceled, nothing held.
    started = time.time()
    interrupted = _start_main(env)
    _, said = _kill_at(interrupted, lambda: _newest_log(env, started), "inference__batch_predictions", 1, 0.3,
                       signal.SIGINT)
    final = _start_main(env)
    stdout, stderr = final.communicate(timeout=600)

    assert interrupted.returncode == 1
    assert "(inference_job, process" in said and "died after" in said  # the run SIGKILLed last, cleared
    (line,) = [line for line in said.splitlines() if "died after" not in line]  # the SIGKILLed run, cleared
    assert line.startswith("interrupted: inference_job 2013-01-05..2013-01-05 stopped (run "), said
    assert line.endswith("recorded as canceled); nothing was half-written (every write is one transaction), "
                         "and running the command again resumes")
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        canceled = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.CANCELED]
        assert [r.job_name for r in canceled] == ["inference_job"]
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots == []
    assert final.returncode == 0, stderr[-3000:]
    assert "main job:" in stdout
    # It resumed: the feature job and both trainings were done by the runs killed after them.
    assert stdout.count("before this one stopped; not run again") == 3, stdout
    assert _state(Path(env["FTI_WAREHOUSE"])) == _state(Path(reference()["FTI_WAREHOUSE"]))


RUN_SCRIPT = """
import sys, warnings
warnings.filterwarnings("ignore")
import dagster as dg
from fti_assets.progress import logger_config
from fti_assets.runner import failure_messages, run_window
with dg.DagsterInstance.get() as instance:
    result = run_window("daily_replay_job", sys.argv[1], sys.argv[1], instance, logger_config("day", sys.argv[2], False))
print("RESULT", result.success, failure_messages(result))
"""


def _replay_day(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, REPLAY_DAY, str(log)], env=env,
                            cwd=settings.REPO_ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_daily_replay_run_killed_mid_dbt_finishes_when_run_again_and_equals_an_uninterrupted_one(
    source, reference, tmp_path
):
    """Two copies of the main job's warehouse: one replays the next day at once, the other is
    killed in the middle of its dbt build first, then runs again."""
    main = Path(reference()["FTI_WAREHOUSE"]).parent
    for name in ("uninterrupted", "killed"):
        shutil.copytree(main, tmp_path / name, ignore=shutil.ignore_patterns("dagster_home"))
    uninterrupted_env, env = _environment(tmp_path / "uninterrupted", source), _environment(tmp_path / "killed", source)

    uninterrupted = _replay_day(uninterrupted_env, tmp_path / "uninterrupted.log")
    killed_log = tmp_path / "killed.log"
    _kill_at(_replay_day(env, killed_log), lambda: killed_log if killed_log.exists() else None, "dbt_models", 1, 2.0)
    again = _replay_day(env, tmp_path / "again.log")
    again_out, again_err = again.communicate(timeout=600)
    uninterrupted_out, uninterrupted_err = uninterrupted.communicate(timeout=600)

    assert "RESULT True" in uninterrupted_out, uninterrupted_err[-3000:]
    assert "RESULT True" in again_out, again_err[-3000:]
    assert "(daily_replay_job, process" in again_err and "died after" in again_err
    assert _state(Path(env["FTI_WAREHOUSE"])) == _state(Path(uninterrupted_env["FTI_WAREHOUSE"]))
