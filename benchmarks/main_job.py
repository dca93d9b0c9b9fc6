"""The end-to-end main job figure: what `fti main` runs, timed per job."""

import time


def stage_main_job(ctx: dict) -> dict:
    """What `fti main` runs, in the child's private warehouse, model store and DAGSTER_HOME."""
    import warnings

    import dagster as dg

    from fti_assets.runner import failure_messages, run_once, run_window

    warnings.filterwarnings("ignore", category=Warning, module="dagster")
    start, end = ctx["window"]
    cutoff, scoring_start = ctx["main_cutoff"], ctx["main_scoring_start"]
    instance = dg.DagsterInstance.get()
    training_config = {"ops": {"training_snapshot": {"config": {"cutoff": cutoff}}}}
    if ctx.get("main_model"):
        training_config["ops"]["flight_disruption_model"] = {"config": ctx["main_model"]}
    steps = [
        ("feature_job_s", lambda: run_window("feature_job", start, end, instance)),
        ("training_job_s", lambda: run_once("training_job", instance, training_config)),
        ("inference_job_s", lambda: run_window("inference_job", scoring_start, end, instance)),
    ]
    figures = {}
    for name, step in steps:
        started = time.perf_counter()
        result = step()
        figures[name] = time.perf_counter() - started
        if not result.success:
            raise RuntimeError(f"{name} failed:\n" + "\n".join(failure_messages(result)))
    figures["seconds"] = sum(figures.values())
    return figures
