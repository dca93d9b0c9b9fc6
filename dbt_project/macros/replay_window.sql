{#- Which dates an incremental model (re)builds.

    Dagster passes a partition window as vars start_date / end_date (local dates). A day's
    data changes the rows of later days too (trailing windows, outcomes known after midnight),
    so a window rebuilds `rebuild_days` past its end; models never write past the last
    delivered day. `lookback_days` widens what is read, not what is written. Without vars, an
    incremental run rebuilds from its newest built date. A full refresh builds everything;
    the same rows come out either way. -#}

{% macro replay_write_start(target_column, rebuild_days=0) -%}
    {%- set start = var('start_date') -%}
    {%- if is_incremental() and start -%}
        cast('{{ start }}' as date)
    {%- elif is_incremental() -%}
        (select coalesce(max({{ target_column }}), date '1900-01-01') - {{ rebuild_days }} from {{ this }})
    {%- else -%}
        date '1900-01-01'
    {%- endif -%}
{%- endmacro %}

{% macro replay_write_end(rebuild_days=0) -%}
    {%- set start = var('start_date') -%}
    {%- set end = var('end_date') -%}
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
