with labelled as (
    select * from {{ ref('mon_labelled_predictions') }}
),

{{ classification_metrics('labelled', ['scheduled_dep_date', 'model_version']) }}

select * from metrics
