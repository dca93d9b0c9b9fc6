-- Streaming runs on DuckDB (docs/streaming.md); the Spark target builds the batch system.
{{ config(
    enabled=target.type == 'duckdb', materialized='incremental', on_schema_change='fail',
    **replay_incremental_config('partition_date')
) }}
-- One history, two paths: the events a delivered day's validated flights and weather imply,
-- and the events streamed in (landed from the event log into raw.stream_events), one row per
-- event id. A streamed event with the id of a delivered one is the same event: the delivered
-- row, which passed the day's checks, wins.
-- Stored per day (partition_date), so that a replay day computes its own events, not the
-- year's: the replay window's days, and the days of landed events no delivered one supersedes
-- (is_streamed), which keep changing while the stream is ahead of the deliveries.
-- depends_on: {{ ref('stg_flights') }}
-- depends_on: {{ source('raw', 'stream_events') }}
{%- set landed = adapter.get_relation(database=target.database, schema='raw', identifier='stream_events') if execute else none %}

{#- The window's days and, to tell which landed events are new, the days events landed for. -#}
{%- set delivered_days -%}
    ({{ replay_dates_filter('partition_date') }}
    {%- if landed is not none %} or partition_date in (select partition_date from landed){% endif %})
{%- endset %}

with
{%- if landed is not none %}
landed as (
    select * from {{ landed }}
),
{%- endif %}

flights as (
    select * from {{ ref('stg_flights') }}
    where {{ delivered_days }}
),

departed as (
    select
        'departed:' || flight_id as event_id,
        'departed' as event_type,
        {{ add_minutes('scheduled_dep_at', 'dep_delay_minutes') }} as event_at,
        flight_id, scheduled_dep_date, scheduled_dep_at, carrier, origin, dest, tailnum,
        dep_delay_minutes, cast(null as double) as arr_delay_minutes
    from flights
    where not is_cancelled and dep_delay_minutes is not null
),

-- The data has no arrival time in UTC: gate arrival is estimated as the gate departure plus
-- the air time plus 20 minutes of taxiing out and in.
arrived as (
    select
        'arrived:' || flight_id,
        'arrived',
        {{ add_minutes('scheduled_dep_at', 'dep_delay_minutes + air_time_minutes + 20') }},
        flight_id, scheduled_dep_date, scheduled_dep_at, carrier, origin, dest, tailnum,
        dep_delay_minutes, arr_delay_minutes
    from flights
    where arr_delay_minutes is not null and air_time_minutes is not null and dep_delay_minutes is not null
),

-- Known for sure only once the flight does not leave: at its scheduled departure.
cancelled as (
    select
        'cancelled:' || flight_id, 'cancelled', scheduled_dep_at,
        flight_id, scheduled_dep_date, scheduled_dep_at, carrier, origin, dest, tailnum,
        cast(null as double), cast(null as double)
    from flights
    where is_cancelled
),

flight_events as (
    select * from departed
    union all select * from arrived
    union all select * from cancelled
),

observed as (
    select
        'observed:' || origin || ':' || cast(observed_at as string) as event_id,
        'observed' as event_type,
        observed_at as event_at,
        partition_date,
        origin,
        temp_f, dewpoint_f, humidity_pct, wind_speed_mph, wind_gust_mph, precip_inches, pressure_mb, visibility_miles
    from {{ ref('stg_weather') }}
    where {{ delivered_days }}
),

delivered as (
    select
        event_id, event_type, event_at, scheduled_dep_date as partition_date,
        flight_id, scheduled_dep_at, carrier, origin, dest, tailnum, dep_delay_minutes, arr_delay_minutes,
        cast(null as double) as temp_f, cast(null as double) as dewpoint_f, cast(null as double) as humidity_pct,
        cast(null as double) as wind_speed_mph, cast(null as double) as wind_gust_mph,
        cast(null as double) as precip_inches, cast(null as double) as pressure_mb,
        cast(null as double) as visibility_miles
    from flight_events
    union all
    select
        event_id, event_type, event_at, partition_date,
        null, null, null, origin, null, null, null, null,
        temp_f, dewpoint_f, humidity_pct, wind_speed_mph, wind_gust_mph, precip_inches, pressure_mb,
        visibility_miles
    from observed
),

{%- if landed is not none %}

-- The landed events no delivered one supersedes. Each side has one row per event id (flight ids,
-- weather's origin and observed_at, and landed ids are unique), so this is an anti join rather
-- than a window over every event, which at 100x (66 million) runs out of memory.
streamed as (
    select
        event_id, event_type, event_at, partition_date,
        flight_id, scheduled_dep_at, carrier, origin, dest, tailnum, dep_delay_minutes, arr_delay_minutes,
        temp_f, dewpoint_f, humidity_pct, wind_speed_mph, wind_gust_mph, precip_inches, pressure_mb,
        visibility_miles
    from landed
    where not exists (select 1 from delivered where delivered.event_id = landed.event_id)
),
{%- endif %}

events as (
    select *, false as is_streamed from delivered
    {%- if landed is not none %}
    union all
    select *, true from streamed
    {%- endif %}
)

select * from events
where {{ replay_dates_filter('partition_date') }}
    {%- if landed is not none %}
    or partition_date in (select partition_date from streamed)
    {%- endif %}
