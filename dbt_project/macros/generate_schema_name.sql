{#- Schemas are the layers of the stateful layer (staging, features, ...), not prefixed by
    the target schema: a reader queries `features.fg_route_history`, as the README says. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name is not none else target.schema }}
{%- endmacro %}
