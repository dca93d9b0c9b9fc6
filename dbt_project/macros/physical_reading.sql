{#- A sensor reading outside physical limits is a fault, read as unknown (null). The same
    limits warn on raw.weather (models/staging/_sources.yml), so faults are counted, not hidden. -#}
{% macro physical_reading(column, min_value, max_value) -%}
    case when cast({{ column }} as double) between {{ min_value }} and {{ max_value }} then cast({{ column }} as double) end
{%- endmacro %}
