{#- Probability metrics per group, in plain SQL: Brier score, log loss, and ROC AUC as the
    Mann-Whitney statistic (ties get their average rank). -#}
{% macro classification_metrics(relation, group_columns) %}
{%- set groups = group_columns | join(', ') -%}
ranked as (
    select
        *,
        rank() over (partition by {{ groups }} order by probability)
            + (count(*) over (partition by {{ groups }}, probability) - 1) / 2.0 as probability_rank
    from {{ relation }}
),

metrics as (
    select
        {{ groups }},
        count(*) as labelled_flights,
        count(*) filter (where is_disrupted) as disrupted_flights,
        avg(probability) as mean_probability,
        avg(is_disrupted::double) as observed_disruption_rate,
        avg(power(probability - is_disrupted::double, 2)) as brier_score,
        -avg(case when is_disrupted then ln(greatest(probability, 1e-6)) else ln(greatest(1 - probability, 1e-6)) end) as log_loss,
        (sum(probability_rank) filter (where is_disrupted)
            - count(*) filter (where is_disrupted) * (count(*) filter (where is_disrupted) + 1) / 2.0)
            / nullif(count(*) filter (where is_disrupted) * count(*) filter (where not is_disrupted), 0) as roc_auc
    from ranked
    group by {{ groups }}
)
{% endmacro %}
