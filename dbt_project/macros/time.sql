{#- Every stored timestamp is a naive TIMESTAMP in UTC. Local New York time appears only as
    dates (the replay's days). These macros are the only place that knows the time zone,
    and the only engine-specific time SQL (a second adapter overrides them by dispatch). -#}

{% macro local_midnight_utc(local_date) -%}
    {{ return(adapter.dispatch('local_midnight_utc', 'fti')(local_date)) }}
{%- endmacro %}

{% macro default__local_midnight_utc(local_date) -%}
    timezone('UTC', timezone('{{ var("local_timezone") }}', cast({{ local_date }} as timestamp)))
{%- endmacro %}

{% macro utc_to_local(utc_timestamp) -%}
    {{ return(adapter.dispatch('utc_to_local', 'fti')(utc_timestamp)) }}
{%- endmacro %}

{% macro default__utc_to_local(utc_timestamp) -%}
    timezone('{{ var("local_timezone") }}', timezone('UTC', {{ utc_timestamp }}))
{%- endmacro %}

{% macro utc_to_local_date(utc_timestamp) -%}
    cast({{ utc_to_local(utc_timestamp) }} as date)
{%- endmacro %}
