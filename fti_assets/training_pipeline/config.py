"""Training run settings: the model's defaults stated once, and the Dagster configs built on them."""

import dataclasses

import dagster as dg


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters and split lengths; the split is counted back from the last snapshot day."""

    validation_days: int = 61
    test_days: int = 61
    learning_rate: float = 0.05
    max_iter: int = 300
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    min_category_frequency: int = 50
    random_state: int = 0
    # The leakage audit's limit on any one column's ROC AUC (leakage.py explains 0.80).
    max_single_feature_roc_auc: float = 0.80
    # OpenMP threads for the fit (None: every core). Measured on a 2-core machine, the default
    # model on 2013: 60 s with both cores, 102 s with one; 148 s against 116 s when another
    # process keeps one core busy.
    threads: int | None = None


_DEFAULT = TrainingConfig()


class ModelConfig(dg.Config):
    """TrainingConfig as run config (its defaults; `threads` stays the fit's default)."""

    validation_days: int = _DEFAULT.validation_days
    test_days: int = _DEFAULT.test_days
    learning_rate: float = _DEFAULT.learning_rate
    max_iter: int = _DEFAULT.max_iter
    max_leaf_nodes: int = _DEFAULT.max_leaf_nodes
    min_samples_leaf: int = _DEFAULT.min_samples_leaf
    l2_regularization: float = _DEFAULT.l2_regularization
    min_category_frequency: int = _DEFAULT.min_category_frequency
    max_single_feature_roc_auc: float = _DEFAULT.max_single_feature_roc_auc
    random_state: int = _DEFAULT.random_state

    def training_config(self) -> TrainingConfig:
        return TrainingConfig(**self.model_dump())


class SnapshotConfig(dg.Config):
    """`cutoff`: last local day (YYYY-MM-DD) of the snapshot; empty means the replay's latest day.
    `feature_view`: the declared view (name_vN, see feature_views/declared.py) the model reads.
    `parquet`: the snapshot's rows built on Spark (spark_snapshot.write_rows, docs/spark.md)
    for this view and cutoff, registered here instead of joining this warehouse's features.
    `max_rows`: past it, a sample of flights of about this many rows (snapshot.sample_bound);
    0 for no bound. The fit holds about 3.5 KB per training row (the dense encoded matrix and
    its copies) beside the snapshot's frame: 10x's whole intraday snapshot (8.9 M rows) needs
    ~28 GB. At 4 M rows the training job stays near 13 GB; 1x's snapshots (at most 1.0 M rows)
    and 10x's batch one (3.1 M) are whole, 10x's intraday and 100x's are samples."""

    cutoff: str = ""
    feature_view: str = "flight_disruption_v1"
    parquet: str = ""
    max_rows: int = 4_000_000


class PromoteConfig(dg.Config):
    """`version`: the model version to make champion (upgrade or rollback); `reason`: for the history."""

    version: int
    reason: str = ""
