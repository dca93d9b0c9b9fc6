with source as (
    select * from {{ source('raw', 'airlines') }}
),

renamed as (
    select
        carrier,
        name as carrier_name,
        loaded_at
    from source
)

select * from renamed
