{{ config(materialized='incremental', on_schema_change='fail', **replay_incremental_config('as_of_date')) }}

-- v2 of the route history: a 3-day window for what changed this week, and disruption rates
-- smoothed towards the network's (20 flights of prior): thin routes no longer read 0 or 1.
with {{ trailing_outcome_windows(ref('int_routes_aggregated_to_day'), ['origin', 'dest'], windows=[3, 7, 28], prefix='route_', prior_flights=20) }}
