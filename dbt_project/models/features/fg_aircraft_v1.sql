{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('as_of_date')) }}

{%- set rebuild_days = var('window_rebuild_days') %}

with outcomes as (
    select * from {{ ref('int_flights_outcomes_known') }}
    where tailnum is not null
        and {{ replay_dates_filter('outcome_known_date', 'as_of_date', rebuild_days, lookback_days=8) }}
),

planes as (
    select * from {{ ref('stg_planes') }}
),

-- A plane can have several outcomes known at the same instant: one event per plane per time.
events as (
    select
        tailnum,
        outcome_known_at as event_at,
        any_value(outcome_known_date) as as_of_date,
        count(*) as flights,
        count(*) filter (where is_disrupted) as disrupted_flights,
        -- The latest arrival among simultaneous outcomes.
        {{ arg_max_not_null('arr_delay_minutes', 'scheduled_dep_at') }} as arr_delay_minutes
    from outcomes
    group by tailnum, outcome_known_at
),

history as (
    select
        tailnum,
        as_of_date,
        event_at,
        {{ last_value_ignore_nulls('arr_delay_minutes') }} over last_week as last_arr_delay_minutes,
        cast(sum(flights) over last_week as integer) as flights_7d,
        cast(sum(disrupted_flights) over last_week as integer) as disrupted_flights_7d
    from events
    window last_week as (partition by tailnum order by event_at range between interval 7 days preceding and current row)
),

final as (
    select
        history.tailnum,
        history.as_of_date,
        history.event_at,
        -- Age as of the event, so that a January and a December row of one plane differ.
        cast(year(history.event_at) - planes.manufactured_year as double) as plane_age_years,
        cast(planes.seats as double) as plane_seats,
        cast(planes.engines as double) as plane_engines,
        history.last_arr_delay_minutes as plane_last_arr_delay_minutes,
        history.flights_7d as plane_flights_7d,
        history.disrupted_flights_7d as plane_disrupted_flights_7d
    from history
    left join planes
        on history.tailnum = planes.tailnum
    where history.as_of_date between {{ replay_write_start('as_of_date', rebuild_days) }} and {{ replay_write_end(rebuild_days) }}
)

select * from final
