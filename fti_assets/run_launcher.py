"""Dagster's default run launcher, with run workers that Dagster's run monitoring can check.

The default launcher cannot say whether a run's worker lives, so the daemon's run monitoring
skips its runs: one whose process was killed while its code server was down too (a power cut)
stays STARTED in the UI and keeps its pool slot. This launcher answers from the process each run
recorded when it started (run_health), which also covers runs that `fti` executed in its own
process. A run it cannot judge (another host, no process recorded) counts as running: the
monitoring daemon fails a run on any other answer.
"""

from dagster._core.launcher import DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

from fti_assets import run_health


class ProcessCheckedRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        alive = run_health.is_alive(run)
        if alive is False:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"process {run.tags[run_health.PID_TAG]} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING, None if alive else "not known here; assumed running")
