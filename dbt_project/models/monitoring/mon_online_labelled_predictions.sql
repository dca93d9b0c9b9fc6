with online as (
    select * from {{ source('inference', 'online_predictions') }}
),

spine as (
    select * from {{ ref('flight_spine') }}
),

batch as (
    select * from {{ source('inference', 'predictions') }}
),

-- The replay's "now", as for batch predictions: a label counts only once known by then.
replay_clock as (
    select {{ local_midnight_utc('max(scheduled_dep_date) + 1') }} as known_by from spine
),

final as (
    select
        online.request_id,
        online.served_at,
        online.flight_id,
        online.scheduled_dep_date,
        online.carrier,
        online.origin,
        online.dest,
        online.model_version,
        online.prediction_at,
        online.probability,
        online.predicted_disrupted,
        spine.is_disrupted,
        spine.label_known_at,
        batch.probability as batch_probability,
        -- Served at the batch's own prediction time, the two paths must agree: a difference is skew.
        online.prediction_at = batch.prediction_at as at_batch_prediction_time
    from online
    join spine
        on online.flight_id = spine.flight_id
    left join batch
        on online.flight_id = batch.flight_id
        and online.model_version = batch.model_version
    cross join replay_clock
    where spine.label_known_at <= replay_clock.known_by
)

select * from final
