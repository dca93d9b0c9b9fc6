{#- Which delivered days the staging views let through (the validation ledger,
    fti_assets/stateful/day_validation.py): never a day skipped by hand, and never a day that
    failed its checks, unless this build re-delivers it (it is in the replay window, where the
    staging tests inspect it again before anything downstream is built). Without a ledger yet
    (a first build), every day. -#}
{% macro validated_days(date_column) -%}
    {%- set ledger = adapter.get_relation(database=target.database, schema='validation', identifier='replay_days') if execute else none -%}
    {%- if ledger is none -%}
        true
    {%- else -%}
        {%- set start = replay_window_date('start_date') -%}
        {%- set end = replay_window_date('end_date') or start -%}
        {{ date_column }} not in (
            select day from {{ ledger }}
            where status = 'skipped'
                or (status = 'failed'{% if start %} and day not between cast('{{ start }}' as date) and cast('{{ end }}' as date){% endif %})
        )
    {%- endif -%}
{%- endmacro %}
