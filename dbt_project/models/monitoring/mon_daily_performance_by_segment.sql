with labelled as (
    select * from {{ ref('mon_labelled_predictions') }}
),

segmented as (
    select *, 'carrier' as segment_type, carrier as segment from labelled
    union all
    select *, 'origin' as segment_type, origin as segment from labelled
),

{{ classification_metrics('segmented', ['scheduled_dep_date', 'model_version', 'segment_type', 'segment']) }}

select * from metrics
