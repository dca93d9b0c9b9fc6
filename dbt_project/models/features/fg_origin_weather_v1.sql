{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('as_of_date')) }}

with weather as (
    select * from {{ ref('stg_weather') }}
    -- One day back, for trailing summaries that cross midnight.
    where {{ replay_dates_filter('partition_date', 'as_of_date', lookback_days=1) }}
),

summarised as (
    select
        origin,
        partition_date as as_of_date,
        -- An observation is known at the hour it was taken.
        observed_at as event_at,
        temp_f,
        dewpoint_f,
        humidity_pct,
        wind_speed_mph,
        wind_gust_mph,
        precip_inches,
        pressure_mb,
        visibility_miles,
        sum(precip_inches) over last_3h as precip_3h_inches,
        max(wind_speed_mph) over last_3h as max_wind_speed_3h_mph,
        min(visibility_miles) over last_3h as min_visibility_3h_miles,
        -- Falling pressure announces storms: the change since the reading 3 hours earlier.
        pressure_mb - first_value(pressure_mb) over last_3h as pressure_change_3h_mb,
        sum(precip_inches) over last_6h as precip_6h_inches
    from weather
    window
        last_3h as (partition by origin order by observed_at range between interval 3 hours preceding and current row),
        last_6h as (partition by origin order by observed_at range between interval 6 hours preceding and current row)
),

final as (
    select * from summarised
    where as_of_date >= {{ replay_write_start('as_of_date') }}
)

select * from final
