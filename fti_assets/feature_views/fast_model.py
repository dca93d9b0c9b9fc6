"""The fitted pipeline's call without pandas, on a few rows (online) or on Arrow columns (batch).

`Pipeline.predict_proba` on one row costs ~15 ms on a quiet machine (70-300 ms on this busy one):
the ColumnTransformer selects columns from a DataFrame and validates every step (~12 ms), and
the classifier calls each of its 300 trees from Python, each call entering an OpenMP region
(~2.4 ms). At load time this module reads the fitted parameters of the one artifact (each
one-hot encoder's output per category, the imputer's statistics and missing-indicator columns,
the scaler's mean and scale, every tree's nodes) and applies them to numpy rows with the same
arithmetic in the same order. For a few rows, all trees are walked together, one numpy step per
tree level; from TREE_BY_TREE_FROM_ROWS rows on, scikit-learn's own compiled tree predictors
are called one tree after another, on the OpenMP threads `predict_proba` would use (their fixed
cost per tree is then shared; each thread takes its own rows). Either way the leaf values are
added tree after tree as scikit-learn adds them, so the probabilities equal `predict_proba`'s bit
for bit (tested). Batch scoring encodes Arrow columns the same way (`predict_proba_table`). On
one thread, its trees left the other core to the next chunk's DuckDB query; measured idle, both
threads scored a 1x year 20% faster even so (docs/performance.md). A pipeline of another shape
is refused at load.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

MISSING_CATEGORY = "missing"  # as feature_views.view.model_inputs fills a NULL category


class UnsupportedPipeline(TypeError):
    """The pipeline is not the shape this fast path reproduces."""


class _OneHot:
    """Per categorical column: the encoder's output block for each known value and for an unknown one."""

    def __init__(self, encoder: OneHotEncoder, columns: list[str]):
        if encoder.drop is not None or encoder.handle_unknown != "ignore":
            raise UnsupportedPipeline("one-hot encoding with drop or handle_unknown other than 'ignore'")
        self.columns = columns
        starts = np.cumsum([0, *encoder._n_features_outs])
        # One transform call for every column (the first call in a process is slow): column i's
        # rows are its known values, then an unknown one, padded with its first value.
        values = [[*categories, object()] for categories in encoder.categories_]
        rows = max(len(v) for v in values)
        frame = pd.DataFrame(
            {c: pd.Series(v + [v[0]] * (rows - len(v)), dtype=object) for c, v in zip(columns, values, strict=True)}
        )
        with np.errstate(all="ignore"):
            encoded = _dense(encoder.transform(frame))
        # Per column: each known value's row in a matrix of output blocks; the last row is for unknown values.
        self.blocks = [encoded[: len(v), starts[i] : starts[i + 1]] for i, v in enumerate(values)]
        self.index: list[dict[Any, int]] = [{value: j for j, value in enumerate(v[:-1])} for v in values]
        self.known = [pa.array(categories) for categories in encoder.categories_]
        self.width = int(starts[-1])

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.hstack(
            [
                block[[index.get(MISSING_CATEGORY if row[c] is None else row[c], len(index)) for row in rows]]
                for c, index, block in zip(self.columns, self.index, self.blocks, strict=True)
            ]
        )

    def transform_table(self, table: pa.Table, out: np.ndarray) -> None:
        """Each column's output block, written into its own columns of `out`."""
        start = 0
        for c, known, block in zip(self.columns, self.known, self.blocks, strict=True):
            values = table.column(c).fill_null(MISSING_CATEGORY)
            # index_in is NULL for a value the encoder never saw: the last block row, for unknowns.
            positions = pc.index_in(values, value_set=known.cast(values.type)).fill_null(len(known))
            out[:, start : start + block.shape[1]] = block[positions.to_numpy()]
            start += block.shape[1]


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


class _Numeric:
    """SimpleImputer (with its missing indicator) then StandardScaler, as fitted."""

    def __init__(self, steps: Pipeline, columns: list[str]):
        imputer, scaler = (step for _, step in steps.steps)
        if not isinstance(imputer, SimpleImputer) or not isinstance(scaler, StandardScaler) or len(steps.steps) != 2:
            raise UnsupportedPipeline("numeric steps other than SimpleImputer then StandardScaler")
        if not imputer.keep_empty_features and np.isnan(imputer.statistics_).any():
            raise UnsupportedPipeline("an imputer that drops empty features")
        self.columns = columns
        self.statistics = imputer.statistics_.astype("float64")
        self.indicated = imputer.indicator_.features_ if imputer.add_indicator else np.array([], dtype=int)
        self.mean = scaler.mean_ if scaler.with_mean else None
        self.scale = scaler.scale_ if scaler.with_std else None
        self.width = len(columns) + len(self.indicated)

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.empty((len(rows), self.width))
        out[:, : len(self.columns)] = np.array([[row[c] for c in self.columns] for row in rows], dtype="float64")
        self._impute_scale(out)
        return out

    def transform_table(self, table: pa.Table, out: np.ndarray) -> None:
        """Columns cast to float64 (NULL as NaN), as model_inputs casts a frame's, written into `out`."""
        for j, c in enumerate(self.columns):
            out[:, j] = table.column(c).cast(pa.float64()).to_numpy()
        self._impute_scale(out)

    def _impute_scale(self, z: np.ndarray) -> None:
        """In place: z's first columns hold the values, imputed here; the missing indicators
        follow them; then all are scaled, element by element as the scaler does."""
        x = z[:, : len(self.columns)]
        missing = np.isnan(x)
        z[:, len(self.columns) :] = missing[:, self.indicated]
        np.copyto(x, self.statistics, where=missing)
        if self.mean is not None:
            z -= self.mean
        if self.scale is not None:
            z /= self.scale


class FastModel:
    """`predict_proba(rows)[:, 1]` of a fitted feature pipeline, for rows given as dicts of
    features (online) or as an Arrow table of the view's columns (batch)."""

    # Measured here: walking 300 trees in numpy costs ~0.16 ms a row, calling the compiled
    # predictors ~4 ms whatever the rows (then ~25 us a row): they cross near 25 rows.
    TREE_BY_TREE_FROM_ROWS = 32

    def __init__(self, pipeline: Pipeline):
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            raise UnsupportedPipeline("not a two-step Pipeline (features, classifier)")
        (_, features), (_, classifier) = pipeline.steps
        if not isinstance(features, ColumnTransformer) or features.remainder != "drop":
            raise UnsupportedPipeline("the first step is not a ColumnTransformer that drops the remainder")
        if not isinstance(classifier, HistGradientBoostingClassifier) or classifier._preprocessor is not None:
            raise UnsupportedPipeline("the classifier is not a HistGradientBoostingClassifier on numeric input")
        self.parts = []
        for name, transformer, columns in features.transformers_:
            if name == "remainder" or transformer == "drop":
                continue
            if isinstance(transformer, OneHotEncoder):
                self.parts.append(_OneHot(transformer, list(columns)))
            elif isinstance(transformer, Pipeline):
                self.parts.append(_Numeric(transformer, list(columns)))
            else:
                raise UnsupportedPipeline(f"transformer {name!r} of type {type(transformer).__name__}")
        if classifier.n_trees_per_iteration_ != 1:
            raise UnsupportedPipeline("a classifier with more than two classes")
        self.loss = classifier._loss
        self.baseline = classifier._baseline_prediction.reshape(-1)
        self.predictors = [predictors[0] for predictors in classifier._predictors]
        self.bitsets, self.feature_map = classifier._bin_mapper.make_known_categories_bitsets()
        self._flatten([predictors[0] for predictors in classifier._predictors])

    def _flatten(self, trees: list) -> None:
        """Every tree's nodes in one array, child indices made global; a leaf points to itself."""
        nodes = [tree.nodes for tree in trees]
        if any(n["is_categorical"].any() for n in nodes):
            raise UnsupportedPipeline("trees with categorical splits")
        offsets = np.cumsum([0, *(len(n) for n in nodes)])[:-1]
        flat = np.concatenate(nodes)
        own = np.arange(len(flat))
        shift = np.repeat(offsets, [len(n) for n in nodes])
        leaf = flat["is_leaf"].astype(bool)
        self.roots = offsets.astype(np.int64)
        self.left = np.where(leaf, own, flat["left"].astype(np.int64) + shift)
        self.right = np.where(leaf, own, flat["right"].astype(np.int64) + shift)
        self.feature = flat["feature_idx"].astype(np.int64)
        self.threshold = flat["num_threshold"]
        self.missing_left = flat["missing_go_to_left"].astype(bool)
        self.value = flat["value"]
        self.depth = int(flat["depth"].max())

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.ascontiguousarray(np.hstack([part.transform(rows) for part in self.parts]))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The classifier's raw score per row: baseline plus each tree's leaf, in tree order."""
        if len(x) >= self.TREE_BY_TREE_FROM_ROWS:
            raw = np.zeros((len(x), 1)) + self.baseline
            threads = _openmp_effective_n_threads()  # as HistGradientBoostingClassifier's own call
            for predictor in self.predictors:
                raw[:, 0] += predictor.predict(x, self.bitsets, self.feature_map, threads)
            return raw
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(self.roots, (len(x), len(self.roots)))
        for _ in range(self.depth):
            value = x[rows, self.feature[node]]
            go_left = np.where(np.isnan(value), self.missing_left[node], value <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        # cumsum adds strictly left to right: the same sums, rounded the same, as scikit-learn's loop.
        terms = np.hstack([np.broadcast_to(self.baseline, (len(x), 1)), self.value[node]])
        return np.cumsum(terms, axis=1)[:, -1:]

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The positive class's probability per row."""
        return self.loss.predict_proba(self.raw(self.transform(rows)))[:, 1]

    def transform_table(self, table: pa.Table) -> np.ndarray:
        """The ColumnTransformer's matrix, each part writing its own columns of one row-major
        array: no stacked copies, which cost a third of the model's time on a year's chunks."""
        out = np.empty((table.num_rows, sum(part.width for part in self.parts)))
        start = 0
        for part in self.parts:
            part.transform_table(table, out[:, start : start + part.width])
            start += part.width
        return out

    def predict_proba_table(self, table: pa.Table) -> np.ndarray:
        """The positive class's probability per row of an Arrow table of the view's features."""
        return self.loss.predict_proba(self.raw(self.transform_table(table)))[:, 1]
