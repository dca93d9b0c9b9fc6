"""`fti main` run again resumes its unfinished attempt: which of its jobs count as done."""

import dagster as dg

from fti_assets import resume

NAMES = ["features", "training", "scoring"]


@dg.op
def succeed() -> None:
    pass


@dg.op
def fail() -> None:
    raise RuntimeError("killed")


@dg.job
def succeeding():
    succeed()


@dg.job
def failing():
    fail()


def _run(instance: dg.DagsterInstance, name: str, ok: bool = True, plan: str = "plan") -> str:
    job = succeeding if ok else failing
    return job.execute_in_process(instance=instance, tags=resume.tags(plan, name), raise_on_error=False).run_id


def test_the_leading_jobs_of_an_unfinished_attempt_are_done_and_a_finished_plan_runs_whole_again():
    instance = dg.DagsterInstance.ephemeral()
    assert resume.completed(instance, "plan", NAMES) == {}

    features = _run(instance, "features")
    _run(instance, "training", ok=False)
    assert resume.completed(instance, "plan", NAMES) == {"features": features}

    training = _run(instance, "training")
    assert resume.completed(instance, "plan", NAMES) == {"features": features, "training": training}
    assert resume.completed(instance, "another plan", NAMES) == {}

    _run(instance, "scoring")  # the plan finished: run again, it starts over
    assert resume.completed(instance, "plan", NAMES) == {}
    again = _run(instance, "features")
    assert resume.completed(instance, "plan", NAMES) == {"features": again}


def test_a_job_done_after_one_that_must_run_again_is_not_skipped():
    instance = dg.DagsterInstance.ephemeral()
    _run(instance, "training")  # no features done in this attempt: nothing may be skipped
    assert resume.completed(instance, "plan", NAMES) == {}


def test_the_plan_names_windows_configs_and_warehouse(monkeypatch, tmp_path):
    steps = [("features", "feature_job", ("2013-01-01", "2013-01-05"), {})]
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "a.duckdb"))
    plan = resume.plan_id(steps)
    assert resume.plan_id(steps) == plan
    assert resume.plan_id([("features", "feature_job", ("2013-01-01", "2013-01-06"), {})]) != plan
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "b.duckdb"))
    assert resume.plan_id(steps) != plan
