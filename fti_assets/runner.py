"""Run a job over a window of replay days, in this process or (`fti main`) in one of its own: the
CLI's and the tests' way in."""

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from fti_assets import run_health
from fti_assets.progress import logger_config, stage_line
from fti_assets.settings import environment

# Before a run starts, Dagster's SQLite storage records one "planned" event per asset and
# partition, about 25 ms each: 6,600 of them, nearly three minutes, for a year of feature
# assets. Dagster's opt-in setting (dagster-io/dagster#29288) makes a run over a range of days
# announce each asset once. Its cost, as that change says: if the run fails, its days show in
# the UI as missing rather than failed (the run shows the failure, and `fti` prints it).
# Single-day runs, the schedule's, keep per-day planned events.
PLANNED_EVENTS_PER_RANGE = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def run_window(
    job_name: str,
    start: str,
    end: str,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run over the local days start..end, as a single-run backfill of those partitions."""
    from fti_assets.definitions import build

    clear_dead_runs(instance)
    with environment(PLANNED_EVENTS_PER_RANGE if start != end else {}):
        return build().get_job_def(job_name).execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={**(tags or {}), ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
            raise_on_error=False,
        )


def run_once(
    job_name: str, instance: dg.DagsterInstance, run_config: dict | None = None, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    """One run of an unpartitioned job (training)."""
    from fti_assets.definitions import build

    clear_dead_runs(instance)
    return build().get_job_def(job_name).execute_in_process(
        instance=instance, run_config=run_config, tags=tags, raise_on_error=False
    )


def clear_dead_runs(instance: dg.DagsterInstance) -> None:
    """Before a run claims the warehouse: runs that died holding it are failed and their slots
    freed, one line each (run_health)."""
    for cleared in run_health.clear_dead_runs(instance):
        print(cleared.line, file=sys.stderr, flush=True)


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """The error of every failed step, as a user should read it."""
    # Steps that fail for one reason (five raw tables, one bad path) say it once.
    steps = list(dict.fromkeys(
        _readable(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ))
    # A run can also fail between steps (a wait for the warehouse that timed out).
    return steps or [
        _readable(event.event_specific_data.error)
        for event in result.all_events
        if event.is_run_failure and event.event_specific_data and event.event_specific_data.error
    ]


def _readable(error) -> str:
    """An exception raised by an asset arrives wrapped in Dagster's step error: show its own message."""
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


@dataclass(frozen=True)
class Finished:
    """What a job run in a child process reports back: enough for one line on the terminal."""

    success: bool
    failures: list[str]
    line: str


class Interrupted(Exception):
    """The user stopped a job run apart (Ctrl-C); its run is recorded as canceled."""


def run_apart(
    label: str, job_name: str, window: tuple[str, str] | None, run_config: dict, log_file: Path, verbose: bool,
    tags: dict[str, str] | None = None,
) -> Finished:
    """Run a job in a child process of its own, on the instance DAGSTER_HOME names, with the
    progress line and every event in `log_file` (progress.logger_config).

    A job's memory goes back to the system when its process ends. In one process, the memory
    an earlier job's work made the process hold (DuckDB's and the allocator's) stays held: at
    100x the feature_job left 20.6 GiB, and the training job after it was killed for memory.
    Forked, the child starts with this process's imports and definitions, at no cost.

    The child has a process group of its own, so a Ctrl-C reaches this process alone (not the
    helper processes Dagster starts, which print tracebacks when interrupted); it is passed on to
    the child, whose run then stops at Dagster's next safe point, and raises Interrupted here.
    The child dies with this process, even by SIGKILL, as it would in one group."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiving, sending = context.Pipe(duplex=False)
    run_config = {**run_config, **logger_config(label, log_file, verbose)}
    started = time.perf_counter()
    child = context.Process(
        target=_run_in_child, args=(sending, label, job_name, window, run_config, tags, log_file, verbose, started)
    )
    child.start()
    sending.close()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.setpgid(child.pid, child.pid)  # also done by the child: whichever runs first
    try:
        finished = receiving.recv()
    except EOFError:  # the child ended before it could report
        finished = None
    except KeyboardInterrupt:
        _stop(child)
        raise Interrupted(_cancel_runs_of(child.pid, label)) from None
    finally:
        child.join()
    if finished is None:
        killed = " (killed by the system: most likely out of memory)" if child.exitcode == -signal.SIGKILL else ""
        return Finished(False, [f"its process ended with exit code {child.exitcode}{killed}"], "")
    return finished


# How long an interrupted job may take to reach Dagster's next safe point before it is killed.
STOP_GRACE_SECONDS = 60


def _stop(child) -> None:
    """Pass the interrupt on; a second Ctrl-C, or a child still running after the grace, is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, signal.SIGINT)
    try:
        child.join(STOP_GRACE_SECONDS)
    except KeyboardInterrupt:
        pass
    if child.is_alive():
        child.kill()
        child.join()


def _cancel_runs_of(pid: int, label: str) -> str:
    """Record the child's run as canceled, its slots freed; the one line the user reads."""
    from dagster._core.storage.dagster_run import RunsFilter

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(tags={run_health.PID_TAG: str(pid)}))
        for run in runs:
            if run.status != dg.DagsterRunStatus.CANCELED:
                instance.report_run_canceled(run, message=f"Interrupted by the user (Ctrl-C) during {label}")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    ids = ", ".join(run.run_id[:8] for run in runs)
    return (
        f"interrupted: {label} stopped" + (f" (run {ids} recorded as canceled)" if ids else "")
        + "; nothing was half-written (every write is one transaction), and running the command again resumes"
    )


def _run_in_child(
    sending, label, job_name, window, run_config, tags, log_file: Path, verbose: bool, started: float
) -> None:
    os.setpgid(0, 0)
    _die_with_parent(multiprocessing.parent_process().pid)
    with open(log_file, "a") as log:
        try:
            # dagster-dbt echoes dbt's own log lines on stdout: they go to the log file too.
            with dg.DagsterInstance.get() as instance, contextlib.redirect_stdout(sys.stdout if verbose else log):
                result = (run_window(job_name, *window, instance, run_config, tags) if window
                          else run_once(job_name, instance, run_config, tags))
            finished = Finished(result.success, failure_messages(result),
                                stage_line(label, result, time.perf_counter() - started))
        except (KeyboardInterrupt, DagsterExecutionInterruptedError):  # the parent says so, once
            finished = Finished(False, ["interrupted"], "")
        except Exception as error:  # noqa: BLE001 - reported to the parent, the traceback kept in the log
            traceback.print_exc(file=log)
            finished = Finished(False, [f"{type(error).__name__}: {error}"], "")
    sending.send(finished)
    sending.close()
