{{ config(enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail', **replay_incremental_config('scheduled_dep_date')) }}

-- Every flight, predicted at several times before its scheduled departure: the online model's
-- training spine (its requests arrive at any time; these sample the hours that matter).
{%- set minutes_before = [360, 120, 30] %}

with outcomes as (
    select * from {{ ref('int_flights_outcomes_known') }}
    where {{ replay_dates_filter('scheduled_dep_date', 'scheduled_dep_date') }}
),

horizons as (
    {% for minutes in minutes_before -%}
    select {{ minutes }} as minutes_before_departure{% if not loop.last %} union all {% endif %}
    {%- endfor %}
),

final as (
    select
        outcomes.flight_id,
        outcomes.scheduled_dep_date,
        horizons.minutes_before_departure,
        outcomes.scheduled_dep_at,
        {{ add_minutes('outcomes.scheduled_dep_at', '-horizons.minutes_before_departure') }} as prediction_at,
        outcomes.carrier,
        outcomes.origin,
        outcomes.dest,
        outcomes.tailnum,
        cast(hour({{ utc_to_local('outcomes.scheduled_dep_at') }}) as double) as scheduled_dep_hour_local,
        cast({{ iso_day_of_week('outcomes.scheduled_dep_date') }} as double) as day_of_week,
        cast(month(outcomes.scheduled_dep_date) as double) as month_of_year,
        outcomes.distance_miles,
        outcomes.is_disrupted,
        outcomes.outcome_known_at as label_known_at
    from outcomes
    cross join horizons
)

select * from final
