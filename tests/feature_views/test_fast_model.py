"""The pandas-free model call gives predict_proba's probabilities, bit for bit."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.feature_views.fast_model import FastModel, UnsupportedPipeline
from fti_assets.feature_views.view import model_inputs, point_in_time_sql
from fti_assets.stateful import registry


@pytest.fixture(scope="module")
def champion_and_rows(scored):
    """The scored warehouse's champion, and every spine flight's point-in-time row."""
    folder, _ = scored
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        pipeline, _ = registry.load_model(connection, folder / "store", "champion")
        rows = connection.sql(point_in_time_sql(VIEW, "select * from features.flight_spine_v1")).df()
    return pipeline, rows


def test_fast_path_equals_predict_proba_on_every_flight_row_by_row_and_in_batches(champion_and_rows):
    pipeline, rows = champion_and_rows
    rows = rows.copy()
    # A category the model never saw, and a flight with every group missing.
    rows.loc[0, "dest"] = "ZZZ"
    rows.loc[1, list(VIEW.group_features)] = np.nan
    expected = pipeline.predict_proba(model_inputs(rows, VIEW))[:, 1]
    vectors = rows[list(VIEW.features)].astype(object).where(rows[list(VIEW.features)].notna(), None).to_dict("records")
    fast = FastModel(pipeline)
    assert len(vectors) > 3000
    # Large batches call the compiled trees one by one; small ones walk them in numpy.
    assert len(vectors) >= FastModel.TREE_BY_TREE_FROM_ROWS > 20
    assert fast.predict_proba(vectors).tolist() == expected.tolist()
    assert fast.predict_proba(vectors[:20]).tolist() == expected[:20].tolist()
    assert [fast.predict_proba([v])[0] for v in vectors[:200]] == expected[:200].tolist()


def test_a_pipeline_of_another_shape_is_refused():
    with pytest.raises(UnsupportedPipeline, match="ColumnTransformer"):
        FastModel(Pipeline([("features", "passthrough"), ("classifier", LogisticRegression())]))


def test_arrow_columns_give_the_column_transformers_matrix_and_predict_probas_probabilities(champion_and_rows):
    pipeline, frame = champion_and_rows
    frame = frame.copy()
    # A category the model never saw, a NULL category, and a flight with every group missing.
    frame.loc[0, "dest"] = "ZZZ"
    frame.loc[1, "carrier"] = None
    frame.loc[2, list(VIEW.group_features)] = np.nan
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Integer columns reach the model as float64, as model_inputs casts them.
    assert table.column("carrier").null_count == 1
    assert any(pa.types.is_integer(table.schema.field(c).type) for c in VIEW.numeric_features)
    inputs = model_inputs(frame, VIEW)
    fast = FastModel(pipeline)
    assert np.array_equal(fast.transform_table(table), pipeline.steps[0][1].transform(inputs))
    assert fast.predict_proba_table(table).tolist() == pipeline.predict_proba(inputs)[:, 1].tolist()
