"""Every outside thing the assets touch, configured in one place."""

from pathlib import Path

import dagster as dg

from fti_assets import settings
from fti_assets.stateful import warehouse_lock
from fti_assets.stateful.warehouse import check_path, connect

# DuckDB admits one writing process per file: every asset that writes the warehouse joins
# this pool, which dagster_home/dagster.yaml limits to one step at a time across runs.
WAREHOUSE_POOL = "duckdb_writer"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (FTI_WAREHOUSE, else data/warehouse.duckdb)."""

    path: str = ""

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings.warehouse_path()

    def connect(self, read_only: bool = False):
        return connect(self.resolved_path, read_only=read_only)

    def lock(self):
        """Hold the writer's lock without a connection: for dbt, which writes from its own process."""
        check_path(self.resolved_path, read_only=False)
        return warehouse_lock.hold(self.resolved_path, exclusive=True)


class ModelStoreResource(dg.ConfigurableResource):
    """The folder of content-addressed model artifacts (FTI_MODEL_STORE, else data/model_store)."""

    path: str = ""

    @property
    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else settings.model_store_path()
