"""What every benchmark module shares: the windows measured, the small models, connections."""

import datetime as dt
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

YEAR = (dt.date(2013, 1, 1), dt.date(2013, 12, 31))
REPLAY_DAY = dt.date(2013, 12, 15)
TRAINING_CUTOFF = dt.date(2013, 11, 30)
SCORING_START = dt.date(2013, 12, 1)
QUICK_WINDOW = (dt.date(2013, 1, 1), dt.date(2013, 1, 7))
# The scoring model: small on purpose (scoring cost barely depends on it; training time would).
BENCH_MODEL = {"max_iter": 50}
BENCH_TRAIN_ROWS = 100_000
# The main job's model in --quick mode (a week of data cannot hold 61-day validation/test periods).
QUICK_MODEL = {
    "validation_days": 1, "test_days": 1, "max_iter": 30, "min_samples_leaf": 20, "min_category_frequency": 5,
}


def connect(warehouse: Path):
    from fti_assets.stateful.warehouse import connect

    return connect(warehouse)
