-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(
    enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail',
    **replay_incremental_config('event_date')
) }}
-- One row per origin airport and departure event time (a departure or a cancellation): the
-- departures of the hour and of the three hours up to and including that instant.
-- Stored per local date of the event (event_date). A day's events happen from the day before
-- to three days after it (the span validation allows; a test on stg_events holds them to it),
-- and their windows reach three hours past them: a day's events change the rows of the day
-- before to four days after, which need the events of five days either side.
with events as (
    select * from {{ ref('stg_events') }}
    where event_type in ('departed', 'cancelled')
        and {{ stream_days_filter('partition_date', 'event_date', lo=-5, hi=5) }}
),

-- The windows reach back three hours, never further: each origin's events are windowed one UTC
-- day at a time, with the day before's last three hours as context (is_home false). Equal frames,
-- equal rows; and partitions of a day rather than a year (at 100x an origin's year is 22 million
-- events, which one window partition took over ten minutes for).
days as (
    select *, cast(event_at as date) as utc_day, true as is_home from events
    union all
    select *, cast(event_at as date) + 1, false from events
    where event_at >= cast(cast(event_at as date) + 1 as timestamp) - interval 3 hour
),

windowed as (
    select
        is_home,
        origin,
        event_at,
        {{ utc_to_local_date('event_at') }} as event_date,
        cast(count(*) filter (where event_type = 'departed') over last_1h as integer) as origin_departures_1h,
        avg(dep_delay_minutes) over last_1h as origin_mean_dep_delay_minutes_1h,
        cast(count(*) filter (where event_type = 'departed') over last_3h as integer) as origin_departures_3h,
        avg(dep_delay_minutes) over last_3h as origin_mean_dep_delay_minutes_3h,
        avg(case when dep_delay_minutes >= 15 then 1.0 else 0.0 end) filter (where event_type = 'departed') over last_3h
            as origin_delayed_share_3h,
        cast(count(*) filter (where event_type = 'cancelled') over last_3h as integer) as origin_cancellations_3h
    from days
    window
        last_1h as (partition by origin, utc_day order by event_at range between interval 1 hour preceding and current row),
        last_3h as (partition by origin, utc_day order by event_at range between interval 3 hours preceding and current row)
)

-- Peers (events at the same instant) share a frame: their rows are equal.
select distinct * exclude (is_home) from windowed
where is_home and {{ stream_days_filter('event_date', 'event_date', lo=-1, hi=4) }}
