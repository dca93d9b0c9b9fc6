"""Sensors that react to what monitoring sees."""

import dagster as dg
import duckdb

from fti_assets import settings
from fti_assets.automation.degradation import DegradationRule, degraded_days
from fti_assets.automation.jobs import training_job
from fti_assets.stateful.warehouse import connect
from fti_assets.stateful.warehouse_lock import WarehouseBusy


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=300,
    description="Requests a training run when the champion's daily ROC AUC stays below the floor (DegradationRule).",
)
def retrain_on_degradation(context: dg.SensorEvaluationContext):
    rule = DegradationRule()
    try:
        # An evaluation never waits for the warehouse: a busy one is read at the next one.
        with connect(settings.warehouse_path(), read_only=True, timeout=0) as connection:
            days = degraded_days(connection, rule)
    except (WarehouseBusy, OSError, duckdb.Error) as busy_or_missing:
        return dg.SkipReason(f"monitoring not readable now: {busy_or_missing}")
    if not days:
        return dg.SkipReason(f"no {rule.days} days in a row below ROC AUC {rule.min_roc_auc}")
    return dg.RunRequest(
        run_key=f"degraded-{days[-1]}",
        tags={"fti/reason": f"ROC AUC below {rule.min_roc_auc} on {', '.join(days)}"},
    )
