{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('scheduled_dep_date')) }}

with outcomes as (
    select * from {{ ref('int_flights_outcomes_known') }}
    where {{ replay_dates_filter('scheduled_dep_date', 'scheduled_dep_date') }}
),

final as (
    select
        flight_id,
        scheduled_dep_date,
        scheduled_dep_at,
        -- Every flight of day D is scored at the start of D, local time (docs/architecture.md).
        {{ local_midnight_utc('scheduled_dep_date') }} as prediction_at,
        carrier,
        origin,
        dest,
        tailnum,
        -- Schedule features: known in advance, so they live on the spine itself.
        cast(hour({{ utc_to_local('scheduled_dep_at') }}) as double) as scheduled_dep_hour_local,
        cast({{ iso_day_of_week('scheduled_dep_date') }} as double) as day_of_week,
        cast(month(scheduled_dep_date) as double) as month_of_year,
        distance_miles,
        is_disrupted,
        outcome_known_at as label_known_at
    from outcomes
)

select * from final
