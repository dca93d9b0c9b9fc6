-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(
    enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail',
    **replay_incremental_config('scheduled_dep_date')
) }}
-- Stored per local day: a day's rows are its own events' alone, so a replay day rebuilds its own.
-- One row per plane, local day of its flights and event time: its legs of that day so far.
-- Rows at each event, ordered by (event time, id); the row kept for an instant is the last,
-- so it counts every event known at that instant.
with events as (
    select * from {{ ref('stg_events') }}
    where tailnum is not null and event_type in ('departed', 'arrived')
        and {{ stream_days_filter('partition_date', 'scheduled_dep_date') }}
),

running as (
    select
        tailnum,
        partition_date as scheduled_dep_date,
        event_at,
        event_id,
        cast(count(*) filter (where event_type = 'departed') over today as integer) as plane_legs_departed_today,
        cast(count(*) filter (where event_type = 'arrived') over today as integer) as plane_legs_arrived_today,
        {{ last_value_ignore_nulls("case when event_type = 'departed' then dep_delay_minutes end") }} over today
            as plane_last_dep_delay_minutes_today,
        {{ last_value_ignore_nulls('arr_delay_minutes') }} over today as plane_last_arr_delay_minutes_today,
        max(dep_delay_minutes) filter (where event_type = 'departed') over today as plane_max_dep_delay_minutes_today
    from events
    window today as (
        partition by tailnum, partition_date order by event_at, event_id
        rows between unbounded preceding and current row
    )
)

select
    tailnum,
    scheduled_dep_date,
    event_at,
    plane_legs_departed_today,
    plane_legs_departed_today - plane_legs_arrived_today as plane_legs_unarrived_today,
    plane_last_dep_delay_minutes_today,
    plane_last_arr_delay_minutes_today,
    plane_max_dep_delay_minutes_today
from running
qualify row_number() over (partition by tailnum, scheduled_dep_date, event_at order by event_id desc) = 1
