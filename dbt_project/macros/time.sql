{#- Every stored timestamp is a naive TIMESTAMP in UTC. Local New York time appears only as
    dates (the replay's days). These macros are the only place that knows the time zone,
    and the only engine-specific time SQL: one implementation per adapter, by dispatch. Spark's
    timestamps are read in the session's time zone, UTC (profiles.yml), so they hold UTC too. -#}

{% macro local_midnight_utc(local_date) -%}
    {{ return(adapter.dispatch('local_midnight_utc', 'fti')(local_date)) }}
{%- endmacro %}

{% macro duckdb__local_midnight_utc(local_date) -%}
    timezone('UTC', timezone('{{ var("local_timezone") }}', cast({{ local_date }} as timestamp)))
{%- endmacro %}

{% macro spark__local_midnight_utc(local_date) -%}
    to_utc_timestamp(cast({{ local_date }} as timestamp), '{{ var("local_timezone") }}')
{%- endmacro %}

{% macro utc_to_local(utc_timestamp) -%}
    {{ return(adapter.dispatch('utc_to_local', 'fti')(utc_timestamp)) }}
{%- endmacro %}

{% macro duckdb__utc_to_local(utc_timestamp) -%}
    timezone('{{ var("local_timezone") }}', timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{% macro spark__utc_to_local(utc_timestamp) -%}
    from_utc_timestamp({{ utc_timestamp }}, '{{ var("local_timezone") }}')
{%- endmacro %}

{% macro utc_to_local_date(utc_timestamp) -%}
    cast({{ utc_to_local(utc_timestamp) }} as date)
{%- endmacro %}

{% macro add_minutes(timestamp, minutes) -%}
    {{ return(adapter.dispatch('add_minutes', 'fti')(timestamp, minutes)) }}
{%- endmacro %}

{% macro duckdb__add_minutes(timestamp, minutes) -%}
    {{ timestamp }} + to_minutes(cast({{ minutes }} as bigint))
{%- endmacro %}

{% macro spark__add_minutes(timestamp, minutes) -%}
    {{ timestamp }} + make_dt_interval(0, 0, cast({{ minutes }} as int))
{%- endmacro %}

{#- ISO day of week, 1 = Monday. -#}
{% macro iso_day_of_week(date) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'fti')(date)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date) -%}
    isodow({{ date }})
{%- endmacro %}

{% macro spark__iso_day_of_week(date) -%}
    extract(dayofweek_iso from {{ date }})
{%- endmacro %}

{#- One row per day first_date .. last_date (both included), for every row of `relation`
    (whose columns the bounds may name), as `column`. -#}
{% macro days_between(first_date, last_date, relation, column) -%}
    {{ return(adapter.dispatch('days_between', 'fti')(first_date, last_date, relation, column)) }}
{%- endmacro %}

{% macro duckdb__days_between(first_date, last_date, relation, column) -%}
    select cast(day as date) as {{ column }}
    from {{ relation }}, range({{ first_date }}, {{ last_date }} + 1, interval 1 day) as t(day)
{%- endmacro %}

{% macro spark__days_between(first_date, last_date, relation, column) -%}
    select explode(sequence({{ first_date }}, {{ last_date }}, interval 1 day)) as {{ column }}
    from {{ relation }}
{%- endmacro %}
