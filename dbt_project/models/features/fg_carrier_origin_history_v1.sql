{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail') }}

with {{ trailing_outcome_windows(ref('int_carrier_origins_aggregated_to_day'), ['carrier', 'origin'], windows=[7, 28], prefix='carrier_origin_') }}
