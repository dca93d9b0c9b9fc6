"""Model code: time-based split, the fitted scikit-learn pipeline, evaluation and plots.

Pure functions over DataFrames; everything fitted (imputation, scaling, encoding, the
classifier) lives in one Pipeline so inference cannot transform features differently.
"""

import dataclasses
import io

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from fti_assets.feature_views.view import FeatureView, model_inputs
from fti_assets.training_pipeline.config import TrainingConfig

# The baseline: the route's recent disruption rate alone, the simplest informed guess (a
# feature of every declared view: tests/feature_views/test_declared_columns.py).
BASELINE_FEATURE = "route_disruption_rate_28d"


@dataclasses.dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def periods(self) -> dict[str, list[str]]:
        return {
            name: [str(part["scheduled_dep_date"].min().date()), str(part["scheduled_dep_date"].max().date())]
            for name, part in (("train", self.train), ("validation", self.validation), ("test", self.test))
        }


def time_split(frame: pd.DataFrame, config: TrainingConfig, date_column: str = "scheduled_dep_date") -> Split:
    """Train, validation and test as consecutive periods (the last `test_days` are the test):
    no shuffling, so no test day's information reaches training through its neighbours."""
    dates = pd.to_datetime(frame[date_column])
    last = dates.max()
    test_start = last - pd.Timedelta(days=config.test_days - 1)
    validation_start = test_start - pd.Timedelta(days=config.validation_days)
    split = Split(
        train=frame[dates < validation_start],
        validation=frame[(dates >= validation_start) & (dates < test_start)],
        test=frame[dates >= test_start],
    )
    if split.train.empty or split.validation.empty or split.test.empty:
        first = dates.min().date() if len(frame) else None
        raise ValueError(
            f"snapshot covers {first}..{last.date() if len(frame) else None}: too short for "
            f"{config.validation_days} validation and {config.test_days} test days plus a training period"
        )
    return split


def labels(frame: pd.DataFrame, view: FeatureView) -> np.ndarray:
    return frame[view.label].astype(bool).to_numpy()


def build_pipeline(view: FeatureView, config: TrainingConfig) -> Pipeline:
    numeric = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
    ])
    categorical = OneHotEncoder(
        handle_unknown="ignore", min_frequency=config.min_category_frequency, sparse_output=False
    )
    return Pipeline([
        ("features", ColumnTransformer([
            ("categorical", categorical, list(view.categorical_features)),
            ("numeric", numeric, list(view.numeric_features)),
        ])),
        ("classifier", HistGradientBoostingClassifier(
            learning_rate=config.learning_rate,
            max_iter=config.max_iter,
            max_leaf_nodes=config.max_leaf_nodes,
            min_samples_leaf=config.min_samples_leaf,
            l2_regularization=config.l2_regularization,
            early_stopping=False,
            random_state=config.random_state,
        )),
    ])


def fit_pipeline(frame: pd.DataFrame, view: FeatureView, config: TrainingConfig) -> Pipeline:
    """Fit the whole pipeline on `frame`; deterministic given the rows (in order) and config."""
    pipeline = build_pipeline(view, config)
    with threadpool_limits(limits=config.threads):
        pipeline.fit(model_inputs(frame, view), labels(frame, view))
    return pipeline


def predict_proba(pipeline: Pipeline, frame: pd.DataFrame, view: FeatureView) -> np.ndarray:
    return pipeline.predict_proba(model_inputs(frame, view))[:, 1]


def baseline_scores(frame: pd.DataFrame, prevalence: float) -> np.ndarray:
    """The route's 28-day disruption rate, or the training prevalence where it is unknown."""
    return frame[BASELINE_FEATURE].astype("float64").fillna(prevalence).to_numpy()


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """ROC AUC, PR AUC, Brier score, log loss; AUCs are None when one class is missing."""
    both = len(np.unique(y)) == 2
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, clipped, labels=[False, True])),
    }


def group_metrics(frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, column: str) -> dict[str, dict]:
    """The metrics per value of `column` (carrier, origin): where the model serves some badly."""
    values = frame[column].to_numpy()
    return {str(v): metrics(y[values == v], p[values == v]) for v in sorted(pd.unique(values))}


def period_scores(pipeline: Pipeline, split: Split, view: FeatureView) -> dict[str, np.ndarray]:
    """The model's probabilities on the validation and test periods, computed once for the
    evaluation and the plots."""
    periods = {"validation": split.validation, "test": split.test}
    return {name: predict_proba(pipeline, part, view) for name, part in periods.items()}


def evaluate(
    split: Split, view: FeatureView, scores: dict[str, np.ndarray], group_columns=("carrier", "origin")
) -> dict:
    """Validation and test metrics of the model (its `period_scores`) and the baseline, and test
    metrics per group."""
    prevalence = float(labels(split.train, view).mean())
    result: dict = {"periods": split.periods(), "train_prevalence": prevalence}
    for name, part in (("validation", split.validation), ("test", split.test)):
        y = labels(part, view)
        result[name] = {
            "model": metrics(y, scores[name]),
            "baseline": metrics(y, baseline_scores(part, prevalence)),
        }
    y_test = labels(split.test, view)
    result["groups"] = {c: group_metrics(split.test, y_test, scores["test"], c) for c in group_columns}
    return result


def metrics_markdown(evaluation: dict) -> str:
    """Test (and validation) metrics of the model next to the baseline, as a Markdown table."""
    lines = ["| period | scorer | ROC AUC | PR AUC | Brier | log loss | rows |", "|---|---|---|---|---|---|---|"]
    for period in ("validation", "test"):
        for scorer in ("model", "baseline"):
            m = evaluation[period][scorer]
            lines.append(
                f"| {period} | {scorer} | {m['roc_auc']:.4f} | {m['pr_auc']:.4f} | {m['brier']:.4f} "
                f"| {m['log_loss']:.4f} | {m['rows']} |"
            )
    return "\n".join(lines)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return buffer.getvalue()


def plots(y: np.ndarray, p_model: np.ndarray, p_baseline: np.ndarray) -> dict[str, bytes]:
    """Calibration and ROC curves of the model and the baseline on the test period, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import RocCurveDisplay

    pngs = {}
    for name, draw in (("calibration", CalibrationDisplay.from_predictions), ("roc", RocCurveDisplay.from_predictions)):
        figure, axis = plt.subplots(figsize=(5, 4))
        kwargs = {"n_bins": 10, "strategy": "quantile"} if name == "calibration" else {}
        draw(y, p_model, name="model", ax=axis, **kwargs)
        draw(y, p_baseline, name="baseline (route 28d rate)", ax=axis, **kwargs)
        axis.set_title(f"{name} on the test period")
        pngs[name] = _png(figure)
        plt.close(figure)
    return pngs

