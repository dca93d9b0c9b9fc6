with source as (
    select * from {{ source('raw', 'planes') }}
),

renamed as (
    select
        tailnum,
        cast(year as integer) as manufactured_year,
        type as aircraft_type,
        manufacturer,
        model,
        cast(engines as integer) as engines,
        cast(seats as integer) as seats,
        engine as engine_type,
        loaded_at
    from source
)

select * from renamed
