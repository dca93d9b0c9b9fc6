-- Per-segment drift of the features measured per segment (fti_assets/stateful/segment_drift.py,
-- which calibrates the thresholds at registration and says why each statistic):
-- "other airports": one row per scored day, feature and airport; the airport's value minus the
-- median of the airports' values that day, against its usual gap on the training days.
-- "own past": one row per scored day and feature; the share of flights on segments that moved
-- against their own window of days before it: the value (level), or its change from the
-- segment's previous value less the day's median change (step), further outside the window's
-- range of levels or steps than that range is wide.
with thresholds as (
    select * from {{ source('inference', 'segment_drift_thresholds') }}
),

features as (
    select distinct model_version, feature, baseline, segment_by, window_days, min_past_days
    from thresholds
),

scored as (
    from {{ source('inference', 'scored_features') }}
    unpivot (value for feature in (columns(* exclude (flight_id, scheduled_dep_date, model_version))))
),

-- A segment's day value: the median over its flights with a value (they share one feature row).
segment_values as (
    select
        scored.scheduled_dep_date,
        scored.model_version,
        scored.feature,
        features.baseline,
        concat_ws(
            '/',
            case when list_contains(string_split(features.segment_by, ','), 'carrier') then predictions.carrier end,
            case when list_contains(string_split(features.segment_by, ','), 'origin') then predictions.origin end,
            case when list_contains(string_split(features.segment_by, ','), 'dest') then predictions.dest end
        ) as segment,
        median(scored.value) as value,
        count(*) as flights
    from scored
    join features
        on scored.model_version = features.model_version
        and scored.feature = features.feature
    join {{ source('inference', 'predictions') }} as predictions
        on scored.flight_id = predictions.flight_id
        and scored.model_version = predictions.model_version
    group by all
),

-- An airport alone that day has no neighbour to differ from: no row.
airport_gaps as (
    select
        *,
        value - median(value) over (partition by scheduled_dep_date, model_version, feature) as gap
    from segment_values
    where baseline = 'other airports'
    qualify count(*) over (partition by scheduled_dep_date, model_version, feature) >= 2
),

airports as (
    select
        airport_gaps.scheduled_dep_date,
        airport_gaps.model_version,
        airport_gaps.feature,
        airport_gaps.baseline,
        airport_gaps.segment,
        abs(airport_gaps.gap - thresholds.center) as statistic,
        thresholds.threshold,
        null::varchar[] as moved_segments
    from airport_gaps
    join thresholds
        on airport_gaps.model_version = thresholds.model_version
        and airport_gaps.feature = thresholds.feature
        and airport_gaps.segment = thresholds.segment
),

scored_days as (
    select distinct scheduled_dep_date, model_version, feature
    from segment_values
    where baseline = 'own past'
),

-- Every day's segment values: the scored days, and the training days that were not scored.
history as (
    select scheduled_dep_date, model_version, feature, segment, value
    from segment_values
    where baseline = 'own past'
    union all
    select training.day, training.model_version, training.feature, training.segment, training.value
    from {{ source('inference', 'segment_daily_values') }} as training
    anti join scored_days
        on training.day = scored_days.scheduled_dep_date
        and training.model_version = scored_days.model_version
        and training.feature = scored_days.feature
),

-- A segment's change from its previous day with a value.
changes as (
    select
        *,
        value - lag(value) over (
            partition by model_version, feature, segment order by scheduled_dep_date
        ) as change
    from history
),

-- Its step: the change less the median change of all segments that day (a storm moves every
-- route's trailing mean at once; a doubling moves one).
steps as (
    select
        *,
        change - median(change) over (partition by model_version, feature, scheduled_dep_date) as step
    from changes
),

windows as (
    select
        today.scheduled_dep_date,
        today.model_version,
        today.feature,
        today.segment,
        today.value,
        today.flights,
        any_value(steps.step) as step,
        min(past.value) as low,
        max(past.value) as high,
        min(past.step) as step_low,
        max(past.step) as step_high,
        count(past.step) as past_steps,
        min(features.min_past_days) as min_past_days
    from segment_values as today
    join features
        on today.model_version = features.model_version
        and today.feature = features.feature
    join steps
        on today.model_version = steps.model_version
        and today.feature = steps.feature
        and today.segment = steps.segment
        and today.scheduled_dep_date = steps.scheduled_dep_date
    join steps as past
        on today.model_version = past.model_version
        and today.feature = past.feature
        and today.segment = past.segment
        and past.scheduled_dep_date >= today.scheduled_dep_date - features.window_days
        and past.scheduled_dep_date < today.scheduled_dep_date
    where today.baseline = 'own past'
    group by all
    having count(*) >= min(features.min_past_days)
),

moves as (
    select
        *,
        coalesce(
            value > high + (high - low) or value < low - (high - low)
            or (
                past_steps >= min_past_days
                and (step > step_high + (step_high - step_low) or step < step_low - (step_high - step_low))
            ),
            false
        ) as moved
    from windows
),

own_past as (
    select
        moves.scheduled_dep_date,
        moves.model_version,
        moves.feature,
        'own past' as baseline,
        null::varchar as segment,
        coalesce(sum(moves.flights) filter (where moves.moved), 0) / sum(moves.flights) as statistic,
        any_value(thresholds.threshold) as threshold,
        list(moves.segment order by moves.segment) filter (where moves.moved) as moved_segments
    from moves
    join thresholds
        on moves.model_version = thresholds.model_version
        and moves.feature = thresholds.feature
    group by moves.scheduled_dep_date, moves.model_version, moves.feature
),

final as (
    select *, statistic > threshold as is_alarm
    from (
        select * from airports
        union all by name
        select * from own_past
    )
)

select
    scheduled_dep_date,
    model_version,
    feature,
    baseline,
    segment,
    statistic,
    threshold,
    is_alarm,
    moved_segments
from final
