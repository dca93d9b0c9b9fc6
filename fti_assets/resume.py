"""`fti main` run again after it stopped (killed, interrupted, failed) resumes: the jobs that its
unfinished attempt completed are not run again.

Each job run of `fti main` is tagged with the plan (a hash of every job's window and config, the
warehouse and the source) and the job's name. Walking the plan's runs from the newest, the jobs
that succeeded after the plan last finished form the unfinished attempt; the leading ones of them
are done. A plan that finished runs whole again, as before.
"""

import hashlib
import json
import os

import dagster as dg
from dagster._core.storage.dagster_run import RunsFilter

from fti_assets import settings

PLAN_TAG, STEP_TAG = "fti/main_plan", "fti/main_step"


def plan_id(steps: list[tuple]) -> str:
    """The plan's identity: its jobs with their windows and configs, on this warehouse and source."""
    described = {"steps": steps, "warehouse": str(settings.warehouse_path()),
                 "source": os.environ.get("FTI_SOURCE_DIR", "")}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]


def completed(instance: dg.DagsterInstance, plan: str, names: list[str]) -> dict[str, str]:
    """The leading jobs of the plan that its unfinished attempt completed: name -> run id."""
    succeeded = {}
    for run in instance.get_runs(RunsFilter(tags={PLAN_TAG: plan})):  # newest first
        name = run.tags.get(STEP_TAG)
        if run.status != dg.DagsterRunStatus.SUCCESS:
            continue
        if name == names[-1]:
            break  # the attempt before finished: what is older is not resumed
        succeeded.setdefault(name, run.run_id)
    done = {}
    for name in names:
        if name not in succeeded:
            break
        done[name] = succeeded[name]
    return done


def tags(plan: str, name: str) -> dict[str, str]:
    return {PLAN_TAG: plan, STEP_TAG: name}
