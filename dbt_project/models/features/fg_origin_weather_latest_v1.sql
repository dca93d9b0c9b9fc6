-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(enabled=target.type == 'duckdb') }}
-- One row per origin airport and observation: the reading itself, as streamed.
with events as (
    select * from {{ ref('stg_events') }}
    where event_type = 'observed'
)

select
    origin,
    event_at,
    temp_f,
    dewpoint_f,
    humidity_pct,
    wind_speed_mph,
    wind_gust_mph,
    precip_inches,
    pressure_mb,
    visibility_miles
from events
