"""A run whose process dies never wedges the next: real processes in the warehouse's pool,
killed with SIGKILL, against a persistent instance with the committed configuration."""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.launcher.base import WorkerStatus
from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from fti_assets import run_health, settings
from fti_assets.resources import WAREHOUSE_POOL


@pytest.fixture
def instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((settings.REPO_ROOT / "dagster_home" / "dagster.yaml").read_text())
    # The committed 30 s, shortened: how long after a run's end the daemon frees its slots.
    config["run_monitoring"]["free_slots_after_run_end_seconds"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def _start_holder(seconds: float, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.pool_holder", str(seconds)],
        cwd=settings.REPO_ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _holders(instance: dg.DagsterInstance) -> list[str]:
    return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots]


def _wait_for(condition, seconds: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def _holding_run(instance: dg.DagsterInstance) -> tuple[subprocess.Popen, dg.DagsterRun]:
    """A live process holding the pool's only slot, and its run."""
    holder = _start_holder(600)
    _wait_for(lambda: _holders(instance), what="the holder to claim the slot")
    (run_id,) = _holders(instance)
    return holder, instance.get_run_by_id(run_id)


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_run_killed_holding_the_warehouse_is_failed_and_its_slot_freed_by_the_next_launch(instance):
    holder, run = _holding_run(instance)
    assert run_health.is_alive(run) is True
    _kill(holder)
    assert run_health.is_alive(instance.get_run_by_id(run.run_id)) is False
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # what Dagster leaves

    (cleared,) = run_health.clear_dead_runs(instance)

    assert cleared.run_id == run.run_id
    assert f"run {run.run_id[:8]} (hold_job, process {holder.pid} on" in cleared.line
    assert "died after" in cleared.line and "marked failed and its warehouse slot freed" in cleared.line
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _holders(instance) == []
    assert run_health.clear_dead_runs(instance) == []  # once


def test_a_waiting_run_names_a_live_holder_sleeps_and_gives_up_at_the_limit_without_stealing_the_slot(instance):
    holder, run = _holding_run(instance)
    try:
        waiter = _start_holder(1, {"FTI_WAREHOUSE_LOCK_TIMEOUT": "8"})
        _wait_for(lambda: len(instance.get_runs()) == 2, what="the waiting run to start")
        time.sleep(2)  # past its start-up, into the wait
        before, started = _cpu_seconds(waiter.pid), time.monotonic()
        time.sleep(4)
        share = (_cpu_seconds(waiter.pid) - before) / (time.monotonic() - started)
        stdout, stderr = waiter.communicate(timeout=60)

        assert share < 0.05, f"the waiting run used {share:.0%} of a core"
        expected = (f"hold_the_warehouse waits for the warehouse (pool duckdb_writer) for 0 s: held by run "
                    f"{run.run_id[:8]} (hold_job, process {holder.pid} on")
        assert expected in stderr and "its step hold_the_warehouse since " in stderr and "process alive" in stderr
        assert "RESULT False" in stdout
        assert "gave up after 8 s (FTI_WAREHOUSE_LOCK_TIMEOUT)" in stdout, stdout
        assert _holders(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        _kill(holder)


def test_a_holder_that_dies_while_another_run_waits_is_cleared_and_the_waiting_run_goes_on(instance):
    holder, run = _holding_run(instance)
    waiter = _start_holder(1, {"FTI_WAREHOUSE_LOCK_TIMEOUT": "120"})
    try:
        _wait_for(lambda: len(instance.get_runs()) == 2, what="the waiting run to start")
        time.sleep(3)
        _kill(holder)
        stdout, stderr = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            _kill(waiter)

    assert "RESULT True" in stdout, stderr[-3000:]
    assert f"run {run.run_id[:8]} (hold_job, process {holder.pid} on" in stderr and "died after" in stderr
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _holders(instance) == []


def test_the_daemons_run_monitoring_fails_a_dead_run_and_frees_its_slot(instance):
    """What `dagster dev` and the production daemon do, with the committed configuration: Dagster's
    own monitoring asks the instance's launcher whether the run's process lives."""
    holder, run = _holding_run(instance)
    assert instance.run_monitoring_enabled
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    _kill(holder)

    monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id), logging.getLogger("monitoring"))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _holders(instance) == [run.run_id]  # the run failed; its slot waits for the concurrency daemon
    time.sleep(2)
    list(execute_concurrency_slots_iteration(_Context(instance), logging.getLogger("concurrency")))
    assert _holders(instance) == []


class _Context:
    """The part of the daemon's workspace context that its concurrency iteration reads."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
