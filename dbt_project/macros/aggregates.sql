{#- Aggregates and window functions that the engines spell differently. -#}

{#- The value of `arg` on the row with the largest `value`, among rows where `arg` is not
    null (DuckDB's arg_max skips them; Spark's max_by would return the null). -#}
{% macro arg_max_not_null(arg, value) -%}
    {{ return(adapter.dispatch('arg_max_not_null', 'fti')(arg, value)) }}
{%- endmacro %}

{% macro duckdb__arg_max_not_null(arg, value) -%}
    arg_max({{ arg }}, {{ value }})
{%- endmacro %}

{% macro spark__arg_max_not_null(arg, value) -%}
    max_by({{ arg }}, case when {{ arg }} is not null then {{ value }} end)
{%- endmacro %}

{#- The frame's last non-null value of `column` (a window function: follow it with `over`). -#}
{% macro last_value_ignore_nulls(column) -%}
    {{ return(adapter.dispatch('last_value_ignore_nulls', 'fti')(column)) }}
{%- endmacro %}

{% macro duckdb__last_value_ignore_nulls(column) -%}
    last_value({{ column }} ignore nulls)
{%- endmacro %}

{% macro spark__last_value_ignore_nulls(column) -%}
    last_value({{ column }}, true)
{%- endmacro %}
