with served as (
    select * from {{ source('inference', 'online_predictions') }}
),

labelled as (
    select * from {{ ref('mon_online_labelled_predictions') }}
),

{{ classification_metrics('labelled', ['scheduled_dep_date', 'model_version']) }},

traffic as (
    select
        scheduled_dep_date,
        model_version,
        count(*) as served_predictions,
        count(distinct flight_id) as served_flights,
        percentile_cont(0.5) within group (order by latency_ms) as latency_p50_ms,
        percentile_cont(0.99) within group (order by latency_ms) as latency_p99_ms
    from served
    group by scheduled_dep_date, model_version
),

skew as (
    select
        scheduled_dep_date,
        model_version,
        count(*) filter (where at_batch_prediction_time) as compared_with_batch,
        max(abs(probability - batch_probability)) filter (where at_batch_prediction_time) as max_batch_difference
    from labelled
    group by scheduled_dep_date, model_version
),

final as (
    select
        traffic.*,
        metrics.labelled_flights,
        metrics.roc_auc,
        metrics.brier_score,
        metrics.log_loss,
        metrics.mean_probability,
        metrics.observed_disruption_rate,
        skew.compared_with_batch,
        skew.max_batch_difference
    from traffic
    left join metrics
        on traffic.scheduled_dep_date = metrics.scheduled_dep_date
        and traffic.model_version = metrics.model_version
    left join skew
        on traffic.scheduled_dep_date = skew.scheduled_dep_date
        and traffic.model_version = skew.model_version
)

select * from final
