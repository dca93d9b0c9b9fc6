"""Batch scoring figures: score_window (what the inference asset runs) for one day and for the
year, against predict_proba on the same rows already in memory; and the small model they score with."""

import datetime as dt
import json
import time
from pathlib import Path

from benchmarks.common import BENCH_MODEL, BENCH_TRAIN_ROWS, connect
from benchmarks.training_snapshot import VIEW

# The in-memory limit holds a window's rows as a frame, its model inputs and the encoded matrix
# (44 features): about 2 KB per flight, a generous bound.
IN_MEMORY_BYTES_PER_ROW = 2_000


def stage_train(ctx: dict) -> dict:
    """The scoring benchmark's model (not a benchmark figure itself): saved to the model store."""
    from fti_assets import manifest
    from fti_assets.feature_views.view import fingerprint
    from fti_assets.stateful import model_store
    from fti_assets.training_pipeline import model, snapshot
    from fti_assets.training_pipeline.config import SnapshotConfig

    cutoff = dt.date.fromisoformat(ctx["train_cutoff"])
    fp = fingerprint(VIEW, manifest.load())
    with connect(Path(ctx["warehouse"])) as connection:
        # Bounded as the training asset bounds it: 100x's whole snapshot would not fit in memory
        # as a frame; 1x's and 10x's are under the bound, whole as before.
        built = snapshot.build_snapshot(connection, VIEW, fp, cutoff, max_rows=SnapshotConfig().max_rows)
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
    from threadpoolctl import threadpool_limits

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
    with connect(Path(ctx["warehouse"])) as connection:
        # Warm-up on a few rows (first-call overheads), outside both timings.
        warm = scoring.feature_rows(connection, VIEW, start, start).slice(0, 10).to_pandas()
        pipeline.predict_proba(model_inputs(warm, VIEW))

        # What the inference asset runs: chunked read-ahead, predict_proba, one-transaction write.
        started = time.perf_counter()
        scored = scoring.score_window(connection, pipeline, row, VIEW, start, end, 0.5, dt.datetime(2013, 12, 1), None)
        batch_s = time.perf_counter() - started
        # The stage's peak so far is the batch path's; the in-memory limit below holds more.
        batch_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        chunks = scoring.day_chunks(connection, VIEW.spine_relation, start, end)

        # The limit: predict_proba on the same rows, already in memory as model inputs. One
        # call over the whole window when it fits in memory, else one per chunk. Each call's
        # probabilities are checked against the stored ones of its days, then dropped: 100x's
        # year (33.5 M flights) would not hold them all beside DuckDB's cache.
        whole = scored.flights * IN_MEMORY_BYTES_PER_ROW < ctx["memory_limit_gib"] * 2**30 / 2
        windows = [(start, end)] if whole else chunks
        predict_s, predict_one_thread_s, read_s, compared = 0.0, 0.0, 0.0, 0
        for first, last in windows:
            started = time.perf_counter()
            rows = scoring.feature_rows(connection, VIEW, first, last).to_pandas()
            inputs = model_inputs(rows, VIEW)
            read_s += time.perf_counter() - started
            started = time.perf_counter()
            probability = pipeline.predict_proba(inputs)[:, 1]
            predict_s += time.perf_counter() - started
            # Batch scoring's trees run on one thread (FastModel): the same call on one thread
            # says how much of the ratio is the thread count, not the lean path.
            with threadpool_limits(limits=1, user_api="openmp"):
                started = time.perf_counter()
                pipeline.predict_proba(inputs)
                predict_one_thread_s += time.perf_counter() - started
            stored = connection.execute(
                "select flight_id, probability from inference.predictions "
                "where model_version = 1 and scheduled_dep_date between ? and ? order by flight_id",
                [first, last],
            ).df()
            in_memory = pd.Series(probability, index=rows["flight_id"]).sort_index()
            assert in_memory.index.equals(pd.Index(stored["flight_id"])), "batch scoring and the in-memory rows differ"
            assert np.array_equal(in_memory.to_numpy(), stored["probability"].to_numpy()), "batch probabilities differ"
            compared += len(stored)
            del rows, inputs, stored, in_memory
    assert compared == scored.flights, "batch scoring and the in-memory rows differ in count"
    return {
        "batch_s": batch_s, "predict_proba_s": predict_s, "ratio": batch_s / predict_s,
        "predict_proba_one_thread_s": predict_one_thread_s, "ratio_one_thread": batch_s / predict_one_thread_s,
        "feature_read_s": read_s, "predict_calls": len(windows), "chunks": len(chunks),
        "batch_peak_mib": batch_peak_mib,
        "rows": scored.flights, "rows_per_s": scored.flights / batch_s if batch_s else None,
    }
