-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(
    enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail',
    **replay_incremental_config('scheduled_dep_date')
) }}
-- Stored per local day: a day's rows are its own events' alone, so a replay day rebuilds its own.
-- One row per carrier, origin, local day of the flights and event time (a departure or a
-- cancellation): that carrier's departures at that airport so far that day.
with events as (
    select * from {{ ref('stg_events') }}
    where event_type in ('departed', 'cancelled')
        and {{ stream_days_filter('partition_date', 'scheduled_dep_date') }}
),

windowed as (
    select
        carrier,
        origin,
        partition_date as scheduled_dep_date,
        event_at,
        cast(count(*) filter (where event_type = 'departed') over today as integer) as carrier_origin_departures_today,
        avg(dep_delay_minutes) over today as carrier_origin_mean_dep_delay_minutes_today,
        avg(case when dep_delay_minutes >= 15 then 1.0 else 0.0 end) filter (where event_type = 'departed') over today
            as carrier_origin_delayed_share_today,
        cast(count(*) filter (where event_type = 'cancelled') over today as integer) as carrier_origin_cancellations_today
    from events
    window today as (
        partition by carrier, origin, partition_date order by event_at
        range between unbounded preceding and current row
    )
)

select distinct * from windowed
