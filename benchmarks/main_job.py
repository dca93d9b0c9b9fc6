"""The end-to-end main job figure: `fti main` run as a user runs it, timed per job, against the
work it does.

The work (the ratio's denominator, summed in runner.py): the same suite run's full feature build
(stage feature_full: ingest 2013 to 12-29 + one dbt build --full-refresh) + the fit seconds of the models
the main job trains (`fit_seconds` in each registered version's metrics: the batch and the
intraday model's `pipeline.fit`) + the scoring of its window (`scoring_seconds` in the inference
asset's materialization: score_window over December). Everything else in the main job's wall
time (Python start-up, definitions, Dagster's events, snapshots, evaluation, the gate, the
online store, monitoring, the summary) is what the ratio measures.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT

PREDICTIONS = ["inference", "batch_predictions"]


def job_figure(job_name: str, run_config: dict) -> str:
    """The figure a run's seconds go to: one per job of `fti main`, the two trainings apart."""
    view = run_config.get("ops", {}).get("training_snapshot", {}).get("config", {}).get("feature_view", "")
    return "intraday_training_job_s" if "intraday" in view else f"{job_name}_s"


def run_seconds(instance) -> dict[str, float]:
    """Each run's seconds from its creation (planned events included) to its end, by job_figure."""
    figures: dict[str, float] = {}
    for record in instance.get_run_records():
        name = job_figure(record.dagster_run.job_name, record.dagster_run.run_config)
        figures[name] = figures.get(name, 0.0) + record.end_time - record.create_timestamp.timestamp()
    return figures


def fit_seconds(warehouse: Path) -> list[float]:
    """The recorded fit seconds of every registered model version."""
    from fti_assets.stateful import registry
    from fti_assets.stateful.warehouse import connect

    with connect(warehouse, read_only=True) as connection:
        return [registry.get_version(connection, v).metrics["fit_seconds"] for v in registry.versions(connection)]


def scoring_seconds(instance) -> float:
    """The inference asset's own timing of score_window (one run scores the whole window)."""
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey(PREDICTIONS))
    return event.asset_materialization.metadata["scoring_seconds"].value


def main_command(ctx: dict) -> list[str]:
    start, end = ctx["window"]
    command = [sys.executable, "-m", "fti_assets.cli", "main", "--start", start, "--end", end,
               "--cutoff", ctx["main_cutoff"], "--scoring-start", ctx["main_scoring_start"]]
    return command + (["--model", json.dumps(ctx["main_model"])] if ctx.get("main_model") else [])


def stage_main_job(ctx: dict) -> dict:
    """`fti main` in a subprocess (the child's private warehouse, model store and DAGSTER_HOME),
    its printed lines counted; then the runs, fits and scoring it recorded."""
    import dagster as dg

    started = time.perf_counter()
    completed = subprocess.run(
        main_command(ctx), cwd=REPO_ROOT, env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seconds = time.perf_counter() - started
    print(completed.stdout, flush=True)
    if completed.returncode != 0:
        raise RuntimeError(f"fti main failed (exit {completed.returncode})")
    with dg.DagsterInstance.get() as instance:
        runs = run_seconds(instance)
        scoring = scoring_seconds(instance)
    fits = fit_seconds(Path(os.environ["FTI_WAREHOUSE"]))
    return {
        "seconds": seconds,
        **runs,
        "outside_runs_s": seconds - sum(runs.values()),
        "fit_s": sum(fits),
        "models": len(fits),
        "scoring_s": scoring,
        "lines": len(completed.stdout.splitlines()),
    }
