"""Streaming pipeline assets: the events the stream saw, landed in the warehouse for the batch build.

The stream itself (log -> online store) runs beside the service (`fti serve`) or a live day
(`fti stream`), not as runs: a run per event could not answer within the second.
"""

import dagster as dg

from fti_assets import code_version, settings
from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource


@dg.asset(
    key=dg.AssetKey(["raw", "stream_events"]),
    group_name="ingestion",
    pool=WAREHOUSE_POOL,
    code_version=code_version.of_modules("streaming_pipeline/landing.py", "stateful/event_log.py"),
)
def stream_events(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per event streamed in (pushed or replayed), landed from the event log once."""
    from fti_assets.stateful import event_log
    from fti_assets.streaming_pipeline import landing

    log = event_log.connect(settings.event_log_path())
    try:
        with warehouse.connect() as connection:
            landed = landing.land(connection, log)
            total = connection.sql(f"select count(*) from {landing.TABLE}").fetchall()[0][0]
    finally:
        log.close()
    return dg.MaterializeResult(metadata={"landed": landed, "dagster/row_count": total})


streaming_assets = [stream_events]
