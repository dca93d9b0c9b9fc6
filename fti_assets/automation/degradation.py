"""When monitoring says the champion has degraded: the rule the retraining sensor applies."""

import dataclasses
import os

import duckdb

from fti_assets.constants import RETRAIN_DAYS, RETRAIN_MIN_FLIGHTS, RETRAIN_MIN_ROC_AUC


@dataclasses.dataclass(frozen=True)
class DegradationRule:
    """Retrain when the champion's daily ROC AUC stays below `min_roc_auc` for `days` labelled
    days in a row (days with fewer than `min_flights` labelled flights are not judged);
    constants.py says why these defaults."""

    min_roc_auc: float = dataclasses.field(
        default_factory=lambda: float(os.environ.get("FTI_RETRAIN_MIN_ROC_AUC", RETRAIN_MIN_ROC_AUC))
    )
    days: int = dataclasses.field(default_factory=lambda: int(os.environ.get("FTI_RETRAIN_DAYS", RETRAIN_DAYS)))
    min_flights: int = RETRAIN_MIN_FLIGHTS


def degraded_days(connection: duckdb.DuckDBPyConnection, rule: DegradationRule) -> list[str]:
    """The last `rule.days` judged days of the champion, if every one of them is below the floor."""
    rows = connection.execute(
        """
        with champion as (
            select version from registry.alias_history where alias = 'champion' and valid_to is null
        )
        select scheduled_dep_date, roc_auc
        from monitoring.mon_daily_performance
        where model_version = (select version from champion) and labelled_flights >= ?
        order by scheduled_dep_date desc
        limit ?
        """,
        [rule.min_flights, rule.days],
    ).fetchall()
    if len(rows) < rule.days or any(auc is None or auc >= rule.min_roc_auc for _, auc in rows):
        return []
    return sorted(str(day) for day, _ in rows)
