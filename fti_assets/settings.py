"""Where the stateful layer lives: one place, read from the environment."""

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def _configured(variable: str, default: Path) -> Path:
    """The path an environment variable names (made absolute), else the default."""
    configured = os.environ.get(variable)
    return Path(configured).resolve() if configured else default


def warehouse_path() -> Path:
    """The DuckDB warehouse shared by dbt and Dagster (`FTI_WAREHOUSE` overrides it).

    Always absolute: dbt runs inside dbt_project/, so a relative path would name another file.
    """
    return _configured("FTI_WAREHOUSE", REPO_ROOT / "data" / "warehouse.duckdb")


# DuckDB's share of the machine's memory, for dbt (profiles.yml reads the same variable, with the
# same default) and for every warehouse connection. DuckDB's own default, 80%, left a 100x run no
# room beside it: dbt's full build peaked at 19.9 GiB, the main job's training passed 20 GiB.
DUCKDB_MEMORY_LIMIT = "70%"


def duckdb_memory_limit() -> str:
    """`FTI_DUCKDB_MEMORY_LIMIT` (a size, '8GB', or a share of memory, '50%'), else 70%."""
    return os.environ.get("FTI_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT)


def spark_dir() -> Path:
    """Where the Spark target keeps its tables, metastore and snapshots (`FTI_SPARK_DIR`)."""
    return _configured("FTI_SPARK_DIR", REPO_ROOT / "data" / "spark")


def model_store_path() -> Path:
    """The folder of content-addressed model artifacts (`FTI_MODEL_STORE` overrides it)."""
    return _configured("FTI_MODEL_STORE", REPO_ROOT / "data" / "model_store")


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `variables` set, restored after: for settings read from the environment
    by code we call (dbt, Dagster), scoped to one call."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def online_store_path() -> Path:
    """The online store's SQLite file, beside the warehouse (`FTI_ONLINE_STORE` overrides it)."""
    return _configured("FTI_ONLINE_STORE", warehouse_path().parent / "online_store.sqlite")


def event_log_path() -> Path:
    """The event log's SQLite file, beside the warehouse (`FTI_EVENT_LOG` overrides it): what
    the service's push endpoint and the replay append to, and the streaming pipeline reads."""
    return _configured("FTI_EVENT_LOG", warehouse_path().parent / "event_log.sqlite")


def prediction_log_dir() -> Path:
    """The folder the online service appends its predictions to, beside the warehouse
    (`FTI_PREDICTION_LOG` overrides it); an asset loads it into inference.online_predictions."""
    return _configured("FTI_PREDICTION_LOG", warehouse_path().parent / "online_predictions")
