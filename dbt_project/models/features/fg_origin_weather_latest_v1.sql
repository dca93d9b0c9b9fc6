-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(
    enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail',
    **replay_incremental_config('event_date')
) }}
-- One row per origin airport and observation: the reading itself, as streamed.
-- Stored per local date of the observation (event_date); a day's events happen from the day
-- before to three days after it (a test on stg_events holds them to that).
with events as (
    select * from {{ ref('stg_events') }}
    where event_type = 'observed'
        and {{ stream_days_filter('partition_date', 'event_date', lo=-4, hi=4) }}
),

observations as (
    select *, {{ utc_to_local_date('event_at') }} as event_date
    from events
)

select
    origin,
    event_at,
    event_date,
    temp_f,
    dewpoint_f,
    humidity_pct,
    wind_speed_mph,
    wind_gust_mph,
    precip_inches,
    pressure_mb,
    visibility_miles
from observations
where {{ stream_days_filter('event_date', 'event_date', lo=-1, hi=3) }}
