-- Built after the reference tables, so that the relationship tests on carrier, origin and dest
-- run before anything downstream of this model (dbt build skips children of a failed test).
-- depends_on: {{ ref('stg_airlines') }}
-- depends_on: {{ ref('stg_airports') }}

with source as (
    select * from {{ source('raw', 'flights') }}
    where {{ validated_days('partition_date') }}
),

renamed as (
    select
        -- A flight number is reused every day and by several origins: the key is all four.
        carrier || '-' || cast(flight as string) || '-' || origin || '-' || cast(make_date(year, month, day) as string) as flight_id,
        make_date(year, month, day) as scheduled_dep_date,
        -- time_hour is the scheduled departure hour in UTC; adding the minute keeps UTC exact
        -- across the DST switches, where local clock arithmetic would not.
        {{ add_minutes('cast(time_hour as timestamp)', 'minute') }} as scheduled_dep_at,
        carrier,
        cast(flight as integer) as flight_number,
        tailnum,
        origin,
        dest,
        cast(sched_dep_time as integer) as scheduled_dep_hhmm_local,
        cast(dep_delay as double) as dep_delay_minutes,
        cast(arr_delay as double) as arr_delay_minutes,
        cast(air_time as double) as air_time_minutes,
        cast(distance as double) as distance_miles,
        dep_time is null as is_cancelled,
        partition_date,
        loaded_at
    from source
)

select * from renamed
