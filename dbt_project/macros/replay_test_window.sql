{#- Data tests of a replayed window read only the rows that window (re)built.

    Each day is validated when it is built, so rescanning the validated history would cost
    time that grows with the data and find nothing new. A model names the local date column
    its replay writes by (meta.replay_date); during a window its tests read start_date ..
    end_date + window_rebuild_days (the furthest any model rebuilds past a window). Without
    a window (a full build, `dbt test`), every test reads every row. A test's own `where`
    config still applies. -#}

{% macro default__get_where_subquery(relation) -%}
    {%- set conditions = [config.get('where'), replay_test_filter(relation)] | select | list -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{% macro replay_test_filter(relation) -%}
    {%- set start = replay_window_date('start_date') -%}
    {%- if not (execute and start) -%}
        {%- do return('') -%}
    {%- endif -%}
    {#- The relation is one of the test's own parents: look only at those, not the whole graph. -#}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) -%}
        {%- if node and node.resource_type == 'model' and node.schema == relation.schema and node.alias == relation.identifier -%}
            {%- set column = node.config.meta.get('replay_date') -%}
            {%- if column -%}
                {%- do return(
                    column ~ " between cast('" ~ start ~ "' as date) and cast('" ~ (replay_window_date('end_date') or start)
                    ~ "' as date) + " ~ var('window_rebuild_days')
                ) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do return('') -%}
{%- endmacro %}
