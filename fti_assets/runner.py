"""Run a job over a window of replay days, in this process or (`fti main`) in one of its own: the
CLI's and the tests' way in."""

import contextlib
import multiprocessing
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

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
) -> dg.ExecuteInProcessResult:
    """One run over the local days start..end, as a single-run backfill of those partitions."""
    from fti_assets.definitions import build

    with environment(PLANNED_EVENTS_PER_RANGE if start != end else {}):
        return build().get_job_def(job_name).execute_in_process(
            instance=instance,
            run_config=run_config,
            tags={ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
            raise_on_error=False,
        )


def run_once(job_name: str, instance: dg.DagsterInstance, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """One run of an unpartitioned job (training)."""
    from fti_assets.definitions import build

    return build().get_job_def(job_name).execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """The error of every failed step, as a user should read it."""
    # Steps that fail for one reason (five raw tables, one bad path) say it once.
    return list(dict.fromkeys(
        _readable(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ))


def _readable(error) -> str:
    """An exception raised by an asset arrives wrapped in Dagster's step error: show its own message."""
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()


@dataclass(frozen=True)
class Finished:
    """What a job run in a child process reports back: enough for one line on the terminal."""

    success: bool
    failures: list[str]
    line: str


def run_apart(
    label: str, job_name: str, window: tuple[str, str] | None, run_config: dict, log_file: Path, verbose: bool
) -> Finished:
    """Run a job in a child process of its own, on the instance DAGSTER_HOME names, with the
    progress line and every event in `log_file` (progress.logger_config).

    A job's memory goes back to the system when its process ends. In one process, the memory
    an earlier job's work made the process hold (DuckDB's and the allocator's) stays held: at
    100x the feature_job left 20.6 GiB, and the training job after it was killed for memory.
    Forked, the child starts with this process's imports and definitions, at no cost."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receiving, sending = context.Pipe(duplex=False)
    run_config = {**run_config, **logger_config(label, log_file, verbose)}
    started = time.perf_counter()
    child = context.Process(
        target=_run_in_child, args=(sending, label, job_name, window, run_config, log_file, verbose, started)
    )
    child.start()
    sending.close()
    try:
        finished = receiving.recv()
    except EOFError:  # the child ended before it could report
        finished = None
    finally:
        child.join()
    if finished is None:
        killed = " (killed by the system: most likely out of memory)" if child.exitcode == -signal.SIGKILL else ""
        return Finished(False, [f"its process ended with exit code {child.exitcode}{killed}"], "")
    return finished


def _run_in_child(sending, label, job_name, window, run_config, log_file: Path, verbose: bool, started: float) -> None:
    with open(log_file, "a") as log:
        try:
            # dagster-dbt echoes dbt's own log lines on stdout: they go to the log file too.
            with dg.DagsterInstance.get() as instance, contextlib.redirect_stdout(sys.stdout if verbose else log):
                result = (run_window(job_name, *window, instance, run_config) if window
                          else run_once(job_name, instance, run_config))
            finished = Finished(result.success, failure_messages(result),
                                stage_line(label, result, time.perf_counter() - started))
        except Exception as error:  # noqa: BLE001 - reported to the parent, the traceback kept in the log
            traceback.print_exc(file=log)
            finished = Finished(False, [f"{type(error).__name__}: {error}"], "")
    sending.send(finished)
    sending.close()
