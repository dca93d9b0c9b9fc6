{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('as_of_date')) }}

with {{ trailing_outcome_windows(ref('int_routes_aggregated_to_day'), ['origin', 'dest'], windows=[7, 28], prefix='route_') }}
