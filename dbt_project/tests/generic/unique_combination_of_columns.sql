{#- Every row of the duplicated combinations, so that the failure shows them all. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}
select *
from {{ model }}
where ({{ columns }}) in (
    select ({{ columns }})
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
)
{% endtest %}
