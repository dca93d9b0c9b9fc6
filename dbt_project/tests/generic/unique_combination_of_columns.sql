{#- Every row of the duplicated combinations, so that the failure shows them all (nulls
    equal, as in group by). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns = combination_of_columns | join(', ') %}
select rows.*
from (select * from {{ model }}) as rows
join (
    select {{ columns }}
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
) as duplicated
    on {% for c in combination_of_columns %}rows.{{ c }} is not distinct from duplicated.{{ c }}{{ ' and ' if not loop.last }}{% endfor %}
{% endtest %}
