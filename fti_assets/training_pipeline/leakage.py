"""The leakage audit: no single feature, and no feature's missingness, may predict the label alone.

A feature known before departure says little about disruption on its own: on 2013 the best
single column (a route's recent disruption rate) reaches a ROC AUC near 0.6, and the whole
model about 0.7. A column that alone ranks disruptions with ROC AUC `max_roc_auc` (0.80) or
more is almost certainly written after the fact (an outcome, or a record kept only for some
outcomes), so the snapshot is refused before a model is fitted or registered. ROC AUC is taken
symmetric (max(auc, 1 - auc)): a column that predicts the label backwards leaks just as much.
Categories are scored by their label rate in the same rows.
"""

import numpy as np
import pandas as pd

from fti_assets.feature_views.view import FeatureView

MAX_ROC_AUC = 0.80


class LeakageFound(ValueError):
    """A column of the snapshot predicts the label too well on its own."""


def _symmetric_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """max(auc, 1 - auc), or None with one class or one value. The AUC is the Mann-Whitney
    statistic from average ranks, roc_auc_score's value from the distinct values alone (this
    audit takes ~90 of them, on up to millions of rows): the rows are hashed, only the distinct
    values sorted (np.unique sorted every row, seven times slower)."""
    if score.dtype == bool:  # a missingness: two values, counted rather than sorted
        group = score.astype(np.intp)
        counts = np.bincount(group, minlength=2)
    else:
        group, distinct = pd.factorize(score, sort=True)
        counts = np.bincount(group, minlength=len(distinct))
    positives = int(y.sum())
    negatives = len(y) - positives
    if np.count_nonzero(counts) < 2 or not positives or not negatives:
        return None
    average_rank = np.cumsum(counts) - (counts - 1) / 2
    rank_sum = float(np.bincount(group, weights=y.astype("float64"), minlength=len(counts)) @ average_rank)
    auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return max(auc, 1 - auc)


def univariate_roc_auc(frame: pd.DataFrame, view: FeatureView) -> dict[str, float]:
    """ROC AUC of each feature alone (rows where it is known) and of each feature's missingness."""
    y = frame[view.label].astype(bool).to_numpy()
    result = {}
    for column in view.features:
        values = frame[column]
        missing = values.isna().to_numpy()
        if column in view.categorical_features:
            score = values.astype(object).where(~missing, "missing").map(
                pd.Series(y).groupby(values.astype(object).where(~missing, "missing").to_numpy()).mean()
            ).to_numpy(dtype=float)
            auc = _symmetric_auc(y, score)
        else:
            known = ~missing
            auc = _symmetric_auc(y[known], values[known].astype("float64").to_numpy())
        if auc is not None:
            result[column] = auc
        missing_auc = _symmetric_auc(y, missing)
        if missing_auc is not None:
            result[f"{column} missingness"] = missing_auc
    return result


def audit(frame: pd.DataFrame, view: FeatureView, max_roc_auc: float = MAX_ROC_AUC) -> dict[str, float]:
    """The univariate ROC AUCs; raises LeakageFound naming every column at or above the threshold."""
    scores = univariate_roc_auc(frame, view)
    leaks = {c: a for c, a in scores.items() if a >= max_roc_auc}
    if leaks:
        named = ", ".join(f"{c} (ROC AUC {a:.3f})" for c, a in sorted(leaks.items(), key=lambda kv: -kv[1]))
        raise LeakageFound(
            f"leakage audit: {named} alone predict(s) {view.label} at or above ROC AUC {max_roc_auc}: "
            "a value known before departure cannot; find where the column learns the outcome. "
            "Nothing was registered."
        )
    return scores
