"""Runs whose process died: found, marked failed, and their pool slots given back.

A run killed by SIGKILL (out of memory, a closed laptop lid, a power cut) never records its end:
Dagster keeps it STARTED, and the `duckdb_writer` slot its step claimed stays claimed, so every
later run waits for it forever. Each run records the host, pid and start time of the process
that executes it (`identity_tags`, written when the run starts); a run on this host whose pid is
gone, or now names a younger process, is dead. Runs on other hosts are left to Dagster's run
monitoring (`dagster_home/dagster.yaml`), which the daemon runs.
"""

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter

HOST_TAG, PID_TAG, PROCESS_START_TAG = "fti/host", "fti/pid", "fti/process_start"
UNFINISHED = [DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, None when no such process. With it a
    pid reused by a younger process is not taken for the run's. Without /proc (macOS), only
    whether the pid exists ("unknown" start)."""
    if not Path("/proc/self/stat").exists():
        return _exists(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which may hold spaces: starttime is field 22 of stat(5).
    return stat.rsplit(")", 1)[1].split()[19]


def _exists(pid: int) -> str | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "unknown"


def identity_tags() -> dict[str, str]:
    """The tags that let any later process on this host tell whether this one is alive."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PROCESS_START_TAG: _process_start(pid) or "unknown"}


def is_alive(run: dg.DagsterRun) -> bool | None:
    """Whether the run's process lives; None when that cannot be told here (another host, or a
    run that recorded no process)."""
    tags = run.tags
    if tags.get(HOST_TAG) != socket.gethostname() or PID_TAG not in tags:
        return None
    started = _process_start(int(tags[PID_TAG]))
    if started is None:
        return False
    recorded = tags.get(PROCESS_START_TAG, "unknown")
    return "unknown" in (started, recorded) or started == recorded


def describe(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    """`run 1a2b3c4d (training_job, process 123 on host, started 2013-...)`: a run as a person finds it."""
    record = instance.get_run_record_by_id(run.run_id)
    where = f", process {run.tags[PID_TAG]} on {run.tags.get(HOST_TAG)}" if PID_TAG in run.tags else ""
    since = f", started {clock(record.start_time)}" if record and record.start_time else ""
    return f"run {run.run_id[:8]} ({run.job_name}{where}{since})"


def clock(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _last_heard(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.event_log_storage.get_records_for_run(run_id, limit=1, ascending=False).records
    return clock(records[0].timestamp) if records else "unknown"


@dataclass(frozen=True)
class Cleared:
    run_id: str
    line: str


def clear_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Cleared:
    """Record a dead run as failed, saying why, and free every pool slot it held."""
    line = (
        f"{describe(instance, run)} died after {_last_heard(instance, run.run_id)} (its last event): "
        "its process is gone; marked failed and its warehouse slot freed"
    )
    current = instance.get_run_by_id(run.run_id)
    if current is not None and not current.is_finished:
        instance.report_engine_event(line, current)
        instance.report_run_failed(current, message=line)
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return Cleared(run.run_id, line)


def free_if_done(instance: dg.DagsterInstance, run_id: str) -> Cleared | None:
    """Free the slots of a run that holds them but is finished or dead; None if it is alive."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.is_finished:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        what = f"run {run_id[:8]} ({run.job_name}, {run.status.value.lower()})" if run else f"run {run_id[:8]}"
        return Cleared(run_id, f"{what} had ended but still held a warehouse slot: freed")
    if is_alive(run) is False:
        return clear_run(instance, run)
    return None


def clear_dead_runs(instance: dg.DagsterInstance) -> list[Cleared]:
    """Every unfinished run of this host whose process is gone, marked failed, and every slot held
    by a finished or dead run, freed: what a job launch does before it claims the warehouse."""
    cleared = [
        clear_run(instance, record.dagster_run)
        for record in instance.get_run_records(RunsFilter(statuses=UNFINISHED))
        if is_alive(record.dagster_run) is False
    ]
    if instance.event_log_storage.supports_global_concurrency_limits:
        done = {c.run_id for c in cleared}
        for run_id in sorted(instance.event_log_storage.get_concurrency_run_ids() - done):
            freed = free_if_done(instance, run_id)
            if freed is not None:
                cleared.append(freed)
    return cleared
