{#- Which dates an incremental model (re)builds.

    A window is start_date / end_date (local dates): `--vars` from a user, or the environment
    variables FTI_START_DATE / FTI_END_DATE, which Dagster sets for a partition window (see
    replay_window_date). A day's data changes the rows of later days too (trailing windows,
    outcomes known after midnight), so a window rebuilds `rebuild_days` past its end; models
    never write past the last delivered day. `lookback_days` widens what is read, not what is
    written. Without a window, an incremental run rebuilds from its newest built date. A full
    refresh builds everything; the same rows come out either way. -#}

{#- dbt re-parses the whole project whenever `--vars` change, so a window passed as vars costs
    a full parse every replay day; an environment variable read only while executing leaves
    partial parsing intact. `--vars` win when both are given. -#}
{% macro replay_window_date(name) -%}
    {%- set value = var(name) or (env_var('FTI_' ~ name | upper, '') if execute else none) -%}
    {{- return(value or none) -}}
{%- endmacro %}

{% macro replay_write_start(target_column, rebuild_days=0) -%}
    {%- set start = replay_window_date('start_date') -%}
    {%- if is_incremental() and start -%}
        cast('{{ start }}' as date)
    {%- elif is_incremental() -%}
        (select coalesce(max({{ target_column }}), date '1900-01-01') - {{ rebuild_days }} from {{ this }})
    {%- else -%}
        date '1900-01-01'
    {%- endif -%}
{%- endmacro %}

{% macro replay_write_end(rebuild_days=0) -%}
    {%- set start = replay_window_date('start_date') -%}
    {%- set end = replay_window_date('end_date') -%}
    {%- if is_incremental() and start -%}
        cast('{{ end or start }}' as date) + {{ rebuild_days }}
    {%- else -%}
        date '9999-12-31'
    {%- endif -%}
{%- endmacro %}

{% macro replay_dates_filter(date_column, target_column=none, rebuild_days=0, lookback_days=0) -%}
    {{ date_column }} between {{ replay_write_start(target_column or date_column, rebuild_days) }} - {{ lookback_days }}
        and {{ replay_write_end(rebuild_days) }}
{%- endmacro %}

{#- The intraday groups' days: the replay window's (shifted by `lo` .. `hi` days, for rows whose
    date is not their events' day) and every day holding streamed events no delivered event
    supersedes (staging.stg_events.is_streamed). Events keep landing for a day the stream is
    ahead on, outside any replay window, so those days are rebuilt on every run until they are
    delivered. -#}
{% macro stream_days_filter(date_column, target_column, lo=0, hi=0) -%}
    {%- set days = streamed_days() -%}
    ({{ date_column }} between {{ replay_write_start(target_column) }} + {{ lo }} and {{ replay_write_end() }} + {{ hi }}
    {%- for day in days %}
        or {{ date_column }} between date '{{ day }}' + {{ lo }} and date '{{ day }}' + {{ hi }}
    {%- endfor -%})
{%- endmacro %}

{% macro streamed_days() -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set query -%}
        select distinct cast(partition_date as varchar) from {{ ref('stg_events') }} where is_streamed order by 1
    {%- endset -%}
    {{- return(run_query(query).columns[0].values() | list) -}}
{%- endmacro %}
