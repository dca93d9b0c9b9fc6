{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('outcome_known_date')) }}

with outcomes as (
    select * from {{ ref('int_flights_outcomes_known') }}
    where {{ replay_dates_filter('outcome_known_date', rebuild_days=2) }}
),

final as (
    select
        carrier,
        origin,
        outcome_known_date,
        count(*) as flights,
        count(*) filter (where is_disrupted) as disrupted_flights,
        sum(arr_delay_minutes) as arr_delay_minutes_sum,
        count(arr_delay_minutes) as arrived_flights,
        sum(dep_delay_minutes) as dep_delay_minutes_sum,
        count(dep_delay_minutes) as departed_flights
    from outcomes
    group by carrier, origin, outcome_known_date
)

select * from final
