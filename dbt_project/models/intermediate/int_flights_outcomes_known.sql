{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('partition_date')) }}

-- Stored per delivered day, so that a replay day reads only its own flights, not the history:
-- a flight's outcome depends on its own row alone, so no day rebuilds another.
with flights as (
    select * from {{ ref('stg_flights') }}
    where {{ replay_dates_filter('partition_date') }}
),

outcomes as (
    select
        flight_id,
        carrier,
        origin,
        dest,
        tailnum,
        scheduled_dep_date,
        scheduled_dep_at,
        distance_miles,
        dep_delay_minutes,
        arr_delay_minutes,
        is_cancelled,
        -- Disrupted: cancelled, 15+ minutes late at the gate (US on-time definition), or
        -- departed but never arrived at its destination (diverted: no arrival delay).
        is_cancelled or arr_delay_minutes >= 15 or arr_delay_minutes is null as is_disrupted,
        -- When the outcome could first be known: a cancellation at the scheduled departure;
        -- an arrival after departure + flight time + an hour of taxi and reporting; a
        -- diversion (no air time) six hours after departure. Conservative on purpose: a late
        -- estimate costs a little freshness, an early one would leak the future.
        case
            when is_cancelled then scheduled_dep_at
            else {{ add_minutes('scheduled_dep_at', 'coalesce(dep_delay_minutes, 0) + coalesce(air_time_minutes, 360) + 60') }}
        end as outcome_known_at,
        partition_date
    from flights
),

final as (
    select
        *,
        {{ utc_to_local_date('outcome_known_at') }} as outcome_known_date
    from outcomes
)

select * from final
