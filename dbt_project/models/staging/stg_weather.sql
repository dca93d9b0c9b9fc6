-- Built after the airports, so that the relationship test on origin gates what is downstream.
-- depends_on: {{ ref('stg_airports') }}

with source as (
    select * from {{ source('raw', 'weather') }}
    where {{ validated_days('partition_date') }}
),

renamed as (
    select
        origin,
        cast(time_hour as timestamp) as observed_at,
        {{ physical_reading('temp', -60, 130) }} as temp_f,
        cast(dewp as double) as dewpoint_f,
        cast(humid as double) as humidity_pct,
        cast(wind_dir as double) as wind_dir_degrees,
        {{ physical_reading('wind_speed', 0, 250) }} as wind_speed_mph,
        {{ physical_reading('wind_gust', 0, 300) }} as wind_gust_mph,
        {{ physical_reading('precip', 0, 10) }} as precip_inches,
        {{ physical_reading('pressure', 850, 1100) }} as pressure_mb,
        {{ physical_reading('visib', 0, 100) }} as visibility_miles,
        partition_date,
        loaded_at
    from source
)

select * from renamed
