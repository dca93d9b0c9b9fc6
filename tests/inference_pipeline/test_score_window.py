"""The chunked scorer: chunks change nothing but speed and memory, and a window is all or nothing."""

import datetime as dt
import gc
import itertools
import weakref

import duckdb
import pyarrow as pa
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.feature_views.fast_model import FastModel
from fti_assets.inference_pipeline import predictions_table, scoring
from fti_assets.stateful import registry
from tests.conftest import FIRST, LAST

SCORED_AT = dt.datetime(2013, 1, 6)


def score(connection, folder, chunk_rows: int, pipeline=None) -> scoring.WindowScored:
    loaded, model = registry.load_model(connection, folder / "store", "champion")
    return scoring.score_window(
        connection, loaded if pipeline is None else pipeline, model, VIEW, FIRST, LAST, 0.5, SCORED_AT, None, chunk_rows=chunk_rows
    )


def stored(connection) -> tuple[list, list]:
    return (
        connection.sql("select * from inference.predictions order by flight_id").fetchall(),
        connection.sql("select * from inference.scored_features order by flight_id").fetchall(),
    )


def test_chunks_are_runs_of_whole_days_covering_the_window(scored_copy):
    with duckdb.connect(str(scored_copy), read_only=True) as connection:
        per_day = dict(connection.execute(
            "select scheduled_dep_date, count(*) from features.flight_spine_v1 group by 1"
        ).fetchall())
        chunks = scoring.day_chunks(connection, VIEW.spine_relation, FIRST, LAST, chunk_rows=per_day[FIRST] + 1)
    assert chunks[0][0] == FIRST and chunks[-1][1] == LAST
    assert all(later[0] > earlier[1] for earlier, later in itertools.pairwise(chunks))
    # The first day alone is under the chunk size, so the first chunk takes the second day too.
    assert chunks[0] == (FIRST, FIRST + dt.timedelta(days=1))


def test_chunked_scoring_stores_what_one_chunk_stores(scored_copy):
    folder = scored_copy.parent
    with duckdb.connect(str(scored_copy)) as connection:
        whole = score(connection, folder, chunk_rows=10**9)
        one_chunk = stored(connection)
        chunked = score(connection, folder, chunk_rows=1)  # one day per chunk
        assert stored(connection) == one_chunk
        flights = connection.sql(
            f"select count(*) from features.flight_spine_v1 where scheduled_dep_date between '{FIRST}' and '{LAST}'"
        ).fetchall()[0][0]
    assert (whole.flights, whole.predicted_disrupted) == (chunked.flights, chunked.predicted_disrupted)
    assert whole.flights == flights == len(one_chunk[0])
    assert whole.mean_probability == pytest.approx(chunked.mean_probability)


def test_scored_features_are_one_row_per_flight_with_the_inputs_the_model_saw(scored_copy):
    with duckdb.connect(str(scored_copy), read_only=True) as connection:
        stored_inputs = connection.sql(
            f"select flight_id, {', '.join(VIEW.numeric_features)} from inference.scored_features order by flight_id"
        ).df()
        rows = scoring.feature_rows(connection, VIEW, LAST, LAST).to_pandas().sort_values("flight_id", ignore_index=True)
    assert stored_inputs["flight_id"].tolist() == rows["flight_id"].tolist()
    assert stored_inputs.drop(columns="flight_id").equals(rows[list(VIEW.numeric_features)])


class PredictProbaOnly:
    """The registered pipeline seen only through predict_proba: scored on the frames training builds."""

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def predict_proba(self, inputs):
        return self.pipeline.predict_proba(inputs)


def test_the_arrow_path_stores_exactly_what_predict_proba_on_frames_stores(scored_copy):
    folder = scored_copy.parent
    with duckdb.connect(str(scored_copy)) as connection:
        pipeline, _ = registry.load_model(connection, folder / "store", "champion")
        assert isinstance(scoring.probabilities(pipeline, VIEW).__self__, FastModel)
        score(connection, folder, chunk_rows=1)
        lean = stored(connection)
        score(connection, folder, chunk_rows=1, pipeline=PredictProbaOnly(pipeline))
        assert stored(connection) == lean


class NeverCalled:
    def predict_proba(self, inputs):
        raise AssertionError("the model was called without rows")


def test_a_day_without_flights_scores_nothing_and_never_calls_the_model(scored_copy):
    folder = scored_copy.parent
    empty_day = LAST + dt.timedelta(days=400)
    with duckdb.connect(str(scored_copy)) as connection:
        before = stored(connection)
        _, model = registry.load_model(connection, folder / "store", "champion")
        scored = scoring.score_window(
            connection, NeverCalled(), model, VIEW, empty_day, empty_day, 0.5, SCORED_AT, None
        )
        assert stored(connection) == before
    assert scored == scoring.WindowScored(0, 0, None)


class FailsOnSecondChunk:
    """A model that scores one chunk, then breaks: the process dies mid-window."""

    def __init__(self, pipeline):
        self.pipeline, self.calls = pipeline, 0

    def predict_proba(self, inputs):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("model broke on the second chunk")
        return self.pipeline.predict_proba(inputs)


def test_a_failure_mid_window_leaves_the_stored_window_untouched(scored_copy):
    folder = scored_copy.parent
    with duckdb.connect(str(scored_copy)) as connection:
        before = stored(connection)
        pipeline, _ = registry.load_model(connection, folder / "store", "champion")
        with pytest.raises(RuntimeError, match="second chunk"):
            score(connection, folder, chunk_rows=1, pipeline=FailsOnSecondChunk(pipeline))
        assert stored(connection) == before


def test_long_scored_features_of_earlier_versions_are_widened_without_loss():
    with duckdb.connect() as connection:
        connection.sql("create schema inference")
        connection.sql("""create table inference.scored_features (flight_id varchar not null,
            scheduled_dep_date date not null, model_version integer not null, feature varchar not null, value double)""")
        connection.sql("""insert into inference.scored_features values
            ('AA-1-JFK-2013-01-05', '2013-01-05', 1, 'temp_f', 31.5),
            ('AA-1-JFK-2013-01-05', '2013-01-05', 1, 'precip_inches', null),
            ('AA-1-JFK-2013-01-05', '2013-01-05', 2, 'temp_f', 31.5)""")
        with predictions_table.window_writer(connection, FIRST, FIRST, 3, ()):
            pass
        rows = connection.sql(
            "select model_version, temp_f, precip_inches from inference.scored_features order by model_version"
        ).fetchall()
    assert rows == [(1, 31.5, None), (2, 31.5, None)]


def inference_tables(connection) -> set[str]:
    return {t for (t,) in connection.execute(
        "select table_name from duckdb_tables() where schema_name = 'inference'"
    ).fetchall()}


def test_a_new_warehouse_gets_every_table_and_a_dropped_one_comes_back():
    with duckdb.connect() as connection:
        with predictions_table.window_writer(connection, FIRST, FIRST, 1, ["temp_f"]):
            pass
        # TABLES names every table the DDL creates: a run that finds them all skips the DDL.
        assert inference_tables(connection) == set(predictions_table.TABLES)
        connection.execute("drop table inference.segment_daily_values")
        with predictions_table.window_writer(connection, FIRST, FIRST, 1, ["temp_f"]):
            pass
        assert inference_tables(connection) == set(predictions_table.TABLES)


def test_a_failed_first_window_leaves_no_tables_behind():
    with duckdb.connect() as connection:
        with pytest.raises(RuntimeError, match="model broke"), predictions_table.window_writer(
            connection, FIRST, FIRST, 1, ["temp_f"]
        ):
            raise RuntimeError("model broke")
        assert inference_tables(connection) == set()


def one_flight_chunk() -> tuple[pa.Table, pa.Table]:
    at = dt.datetime(2013, 1, 1, 9)
    predictions = pa.table({
        "flight_id": ["AA-1-JFK-2013-01-01"], "scheduled_dep_date": [FIRST], "scheduled_dep_at": [at],
        "prediction_at": [at], "probability": [0.25], "predicted_disrupted": [False], "threshold": [0.5],
        "model_version": pa.array([1], pa.int32()), "feature_view": [VIEW.name],
        "feature_view_version": pa.array([VIEW.version], pa.int32()), "fingerprint": ["f"], "snapshot_id": ["s"],
        "scored_at": [SCORED_AT],
    })
    features = pa.table({"flight_id": ["AA-1-JFK-2013-01-01"], "scheduled_dep_date": [FIRST],
                         "model_version": pa.array([1], pa.int32()), "temp_f": [31.5]})
    return predictions, features


def test_a_written_chunk_is_not_held_until_the_window_commits():
    """Once written, a chunk's rows are DuckDB's, under its memory limit: a window kept every
    chunk alive in Python until its commit, and 100x's year (33.5 M flights) ran out of memory."""
    with duckdb.connect() as connection:
        with predictions_table.window_writer(connection, FIRST, FIRST, 1, ["temp_f"]) as write:
            predictions, features = one_flight_chunk()
            chunk = weakref.ref(predictions), weakref.ref(features)
            write(predictions, features)
            del predictions, features
            gc.collect()
            assert [ref() for ref in chunk] == [None, None]
        assert connection.sql("select flight_id, temp_f from inference.scored_features").fetchall() == [
            ("AA-1-JFK-2013-01-01", 31.5)
        ]
        assert connection.sql("select count(*) from inference.predictions").fetchall() == [(1,)]
