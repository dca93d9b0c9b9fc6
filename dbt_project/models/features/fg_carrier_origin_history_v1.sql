{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('as_of_date')) }}

with {{ trailing_outcome_windows(ref('int_carrier_origins_aggregated_to_day'), ['carrier', 'origin'], windows=[7, 28], prefix='carrier_origin_') }}
