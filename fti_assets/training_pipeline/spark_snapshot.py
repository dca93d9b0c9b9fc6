"""Training snapshot rows built on Spark, from the feature tables the dbt project built there.

The rows come from the same `training_rows_sql` as the DuckDB snapshot (Spark dialect) and
land as Parquet; the training pipeline registers them in the warehouse like its own
(SnapshotConfig.parquet), where the model, the registry and the predictions stay.
"""

import datetime as dt
from pathlib import Path

from fti_assets.feature_views.view import FeatureView
from fti_assets.training_pipeline.snapshot import training_rows_sql


def rows_path(spark_dir: Path, view: FeatureView, cutoff: dt.date) -> Path:
    return spark_dir / "snapshots" / f"{view.name}_v{view.version}_{cutoff.isoformat()}"


def write_rows(spark, view: FeatureView, cutoff: dt.date, path: Path) -> Path:
    """Write the snapshot rows for `view` at `cutoff` to `path` (a Parquet folder, replaced).
    Timestamps are written as naive UTC (timestamp_ntz), as the warehouse stores them."""
    rows = spark.sql(training_rows_sql(view, cutoff, dialect="spark"))
    naive = [
        f"cast(`{f.name}` as timestamp_ntz) as `{f.name}`" if f.dataType.typeName() == "timestamp" else f"`{f.name}`"
        for f in rows.schema.fields
    ]
    rows.selectExpr(*naive).write.mode("overwrite").parquet(str(path))
    return path
