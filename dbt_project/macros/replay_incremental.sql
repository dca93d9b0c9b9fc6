{#- How an incremental model replaces the replay days it rebuilds: DuckDB deletes the days'
    rows and inserts the new ones; Spark (no row-level delete on Parquet tables) overwrites
    the days' partitions. The same rows either way. -#}
{% macro replay_incremental_config(date_column) -%}
    {{ return(adapter.dispatch('replay_incremental_config', 'fti')(date_column)) }}
{%- endmacro %}

{% macro duckdb__replay_incremental_config(date_column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': date_column}) }}
{%- endmacro %}

{% macro spark__replay_incremental_config(date_column) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [date_column], 'file_format': 'parquet'}) }}
{%- endmacro %}
