{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='as_of_date', on_schema_change='fail') }}

with {{ trailing_outcome_windows(ref('int_routes_aggregated_to_day'), ['origin', 'dest'], windows=[7, 28], prefix='route_') }}
