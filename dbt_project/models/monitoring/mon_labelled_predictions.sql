with predictions as (
    select * from {{ source('inference', 'predictions') }}
),

spine as (
    select * from {{ ref('flight_spine') }}
),

-- The replay's "now": the end of the last delivered day. A label counts only once known by then.
replay_clock as (
    select {{ local_midnight_utc('max(scheduled_dep_date) + 1') }} as known_by from spine
),

final as (
    select
        predictions.flight_id,
        predictions.scheduled_dep_date,
        predictions.carrier,
        predictions.origin,
        predictions.dest,
        predictions.model_version,
        predictions.probability,
        predictions.predicted_disrupted,
        spine.is_disrupted,
        spine.label_known_at
    from predictions
    join spine
        on predictions.flight_id = spine.flight_id
    cross join replay_clock
    where spine.label_known_at <= replay_clock.known_by
)

select * from final
