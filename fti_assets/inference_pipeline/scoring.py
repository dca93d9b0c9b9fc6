"""Batch scoring: the live feature view's rows for some days, scored by one registered model.

Feature rows come from the same `point_in_time_sql` that built the model's training snapshot,
and only after the live view's fingerprint matches the one the model was trained with. They
travel as Arrow from DuckDB to the model and back (no pandas frame on the way): the model's
call is `FastModel.predict_proba_table`, bit for bit the fitted pipeline's `predict_proba`.
"""

import contextlib
import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from fti_assets.feature_views import on_demand
from fti_assets.feature_views.fast_model import FastModel, UnsupportedPipeline
from fti_assets.feature_views.view import FeatureView, model_inputs, point_in_time_sql
from fti_assets.inference_pipeline import predictions_table
from fti_assets.stateful.registry import ModelVersion

T = TypeVar("T")
R = TypeVar("R")


# What every prediction row records about its flight beside the model's inputs.
FLIGHT_CONTEXT = ("flight_id", "scheduled_dep_date", "scheduled_dep_at", "carrier", "origin", "dest")
# Rows per scoring chunk: big enough that per-call costs vanish, small enough to hold two.
CHUNK_ROWS = 50_000


def day_spine_sql(view: FeatureView, start: dt.date, end: dt.date) -> str:
    """The flights scheduled on start..end, without their labels: inference never reads them."""
    columns = dict.fromkeys(
        [*view.keys, *view.spine_features, view.prediction_time, *FLIGHT_CONTEXT, *view.on_demand_inputs]
    )
    for group in view.groups:
        columns.update(dict.fromkeys(s for s, _ in group.join_keys))
    return (
        f"select {', '.join(columns)} from features.{view.spine_relation} "
        f"where scheduled_dep_date between date '{start}' and date '{end}'"
    )


def feature_rows(connection: duckdb.DuckDBPyConnection, view: FeatureView, start: dt.date, end: dt.date) -> pa.Table:
    """The view's rows for the flights of start..end, with the flight context predictions
    record; numeric features as float64, as `model_inputs` casts them (integers convert exactly)."""
    carried = tuple(c for c in FLIGHT_CONTEXT if c not in (*view.keys, *view.spine_features))
    on_demand.register(connection, view.on_demand)
    query = point_in_time_sql(view, day_spine_sql(view, start, end), carried)
    rows = connection.sql(query).to_arrow_table()
    for column in view.numeric_features:
        position = rows.schema.get_field_index(column)
        rows = rows.set_column(position, column, rows[column].cast(pa.float64()))
    return rows


def day_chunks(
    connection: duckdb.DuckDBPyConnection,
    spine_relation: str,
    start: dt.date,
    end: dt.date,
    chunk_rows: int = CHUNK_ROWS,
) -> list[tuple[dt.date, dt.date]]:
    """start..end cut into runs of whole days holding about `chunk_rows` scheduled flights each.
    One day is one chunk: its flights are not counted first (a query on every daily run)."""
    if start == end:
        return [(start, end)]
    days = connection.execute(
        f"select scheduled_dep_date, count(*) from features.{spine_relation} "
        "where scheduled_dep_date between ? and ? group by 1 order by 1",
        [start, end],
    ).fetchall()
    chunks, first, rows = [], None, 0
    for day, flights in days:
        first, rows = first or day, rows + flights
        if rows >= chunk_rows:
            chunks.append((first, day))
            first, rows = None, 0
    if first is not None:
        chunks.append((first, days[-1][0]))
    return chunks


@contextlib.contextmanager
def read_ahead(read: Callable[[T], R], items: Iterable[T]) -> Iterator[Iterator[R]]:
    """read(item) for each item, in a background thread one item ahead of the caller: the first
    read starts on entry, while the caller prepares, and each next one while the caller works on
    the current result (DuckDB releases the GIL while it queries). Exit waits for a read in flight."""
    pending = iter(items)
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = [pool.submit(read, item) for item in itertools.islice(pending, 1)]

        def results() -> Iterator[R]:
            while ahead:
                current = ahead.pop()
                ahead.extend(pool.submit(read, item) for item in itertools.islice(pending, 1))
                yield current.result()

        yield results()


def probabilities(pipeline: Any, view: FeatureView) -> Callable[[pa.Table], np.ndarray]:
    """The pipeline's positive-class probability for each of the view's Arrow rows.

    FastModel where it reproduces the pipeline (it skips the ColumnTransformer's pandas work);
    any other model gets the frame training built (`model_inputs`) and its own predict_proba.
    """
    try:
        return FastModel(pipeline).predict_proba_table
    except UnsupportedPipeline:
        return lambda rows: pipeline.predict_proba(model_inputs(rows.to_pandas(), view))[:, 1]


@dataclasses.dataclass(frozen=True)
class Scored:
    predictions: pa.Table
    features: pa.Table


def score(
    rows: pa.Table,
    probability: np.ndarray,
    model: ModelVersion,
    view: FeatureView,
    threshold: float,
    scored_at: dt.datetime,
    run_id: str | None,
) -> Scored:
    """Predictions with their lineage, and the numeric inputs they saw (one row per flight)."""
    def repeated(value: Any, type_: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), rows.num_rows)

    probability = probability.astype("float64")
    predictions = rows.select(list(FLIGHT_CONTEXT)).append_column("prediction_at", rows[view.prediction_time])
    lineage = {
        "probability": pa.array(probability),
        "predicted_disrupted": pa.array(probability >= threshold),
        "threshold": repeated(threshold, pa.float64()),
        "model_version": repeated(model.version, pa.int32()),
        "feature_view": repeated(view.name, pa.string()),
        "feature_view_version": repeated(view.version, pa.int32()),
        "fingerprint": repeated(model.fingerprint, pa.string()),
        "snapshot_id": repeated(model.snapshot_id, pa.string()),
        "scored_at": repeated(scored_at, pa.timestamp("us")),
        "dagster_run_id": repeated(run_id, pa.string()),
    }
    for name, column in lineage.items():
        predictions = predictions.append_column(name, column)
    features = rows.select(["flight_id", "scheduled_dep_date", *view.numeric_features]).append_column(
        "model_version", lineage["model_version"]
    )
    return Scored(predictions, features)


@dataclasses.dataclass(frozen=True)
class WindowScored:
    flights: int
    predicted_disrupted: int
    mean_probability: float | None


def score_window(
    connection: duckdb.DuckDBPyConnection,
    pipeline: Any,
    model: ModelVersion,
    view: FeatureView,
    start: dt.date,
    end: dt.date,
    threshold: float,
    scored_at: dt.datetime,
    run_id: str | None,
    chunk_rows: int = CHUNK_ROWS,
) -> WindowScored:
    """Score every flight of start..end and replace the window's predictions in one transaction.

    Whole days are scored in chunks: memory holds two chunks whatever the window's length, and
    the next chunk's point-in-time query runs while the model scores the current one.
    """
    chunks = day_chunks(connection, view.spine_relation, start, end, chunk_rows)
    reader = connection.cursor()  # its own connection to the database: safe in the reading thread
    flights = disrupted = 0
    probability_sum = 0.0
    try:
        # The first chunk's query runs while the model is read and the old rows are deleted.
        with (
            read_ahead(lambda days: feature_rows(reader, view, *days), chunks) as chunk_rows_read,
            predictions_table.window_writer(connection, start, end, model.version, view.numeric_features) as write,
        ):
            predict = probabilities(pipeline, view)
            for rows in chunk_rows_read:
                if not rows.num_rows:
                    continue  # a day without flights: nothing to score
                probability = predict(rows)
                scored = score(rows, probability, model, view, threshold, scored_at, run_id)
                write(scored.predictions, scored.features)
                flights += rows.num_rows
                disrupted += int((probability >= threshold).sum())
                probability_sum += float(probability.sum())
    finally:
        reader.close()
    return WindowScored(flights, disrupted, probability_sum / flights if flights else None)
