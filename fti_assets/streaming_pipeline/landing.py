"""Landing: events from the log into the warehouse (raw.stream_events), so the next batch build
sees what the stream saw (staging.stg_events reads both the delivered days and these).

Runs with the feature job, under the warehouse's writer lock; pushes meanwhile keep going to
the log, and the next landing takes them. Each event lands once: the events after the highest
log position landed, less any id already there (a log started afresh lands from its start).
"""

import duckdb
import pandas as pd

from fti_assets.stateful import event_log

TABLE = "raw.stream_events"
DDL = (
    "create schema if not exists raw",
    f"""create table if not exists {TABLE} (
        event_id varchar not null primary key,
        event_type varchar not null,
        event_at timestamp not null,
        partition_date date not null,
        flight_id varchar, scheduled_dep_at timestamp, carrier varchar, origin varchar, dest varchar,
        tailnum varchar, dep_delay_minutes double, arr_delay_minutes double,
        temp_f double, dewpoint_f double, humidity_pct double, wind_speed_mph double, wind_gust_mph double,
        precip_inches double, pressure_mb double, visibility_miles double,
        received_at timestamp not null,
        log_seq bigint not null
    )""",
)
CHUNK = 50_000


def land(connection: duckdb.DuckDBPyConnection, log: event_log.sqlite3.Connection) -> int:
    """Copy the log's events not landed yet; returns how many landed."""
    for statement in DDL:
        connection.execute(statement)
    landed_seq = connection.sql(f"select coalesce(max(log_seq), 0) from {TABLE}").fetchall()[0][0]
    if event_log.last_seq(log) < landed_seq:
        landed_seq = 0
    total = 0
    while chunk := event_log.read_after(log, landed_seq, CHUNK):
        frame = pd.DataFrame([e.__dict__ for _, _, e in chunk], columns=list(event_log.COLUMNS))
        frame["received_at"] = [event_log.from_microseconds(r) for _, r, _ in chunk]
        frame["log_seq"] = [seq for seq, _, _ in chunk]
        connection.register("landing_chunk", frame)
        try:
            before = connection.sql(f"select count(*) from {TABLE}").fetchall()[0][0]
            connection.execute(
                f"insert into {TABLE} by name select * from landing_chunk "
                f"where event_id not in (select event_id from {TABLE})"
            )
            total += connection.sql(f"select count(*) from {TABLE}").fetchall()[0][0] - before
        finally:
            connection.unregister("landing_chunk")
        landed_seq = chunk[-1][0]
    return total
