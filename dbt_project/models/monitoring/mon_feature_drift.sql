-- Each scored day of a monitored feature against the window of days before it (training days
-- until scored days take over), over the training deciles; alarms above the feature's threshold,
-- calibrated with the same window on the training days (fti_assets/stateful/feature_baselines.py).
-- Stored one row per flight with a column per feature; measured one row per flight and feature.
with scored as (
    from {{ source('inference', 'scored_features') }}
    unpivot include nulls (
        value for feature in (columns(* exclude (flight_id, scheduled_dep_date, model_version)))
    )
),

-- Calendar features have no threshold row: they are not monitored.
thresholds as (
    select * from {{ source('inference', 'feature_drift_thresholds') }}
),

baselines as (
    select baselines.*
    from {{ source('inference', 'feature_baselines') }} as baselines
    semi join thresholds using (model_version, feature)
),

scored_days as (
    select scheduled_dep_date, model_version, feature, count(*) as flights
    from scored
    semi join thresholds using (model_version, feature)
    group by all
),

-- Bin 0 holds NULLs; bins 1.. are [lower, upper) of the training deciles.
observed as (
    select scored.scheduled_dep_date, scored.model_version, scored.feature, baselines.bin, count(*) as flights
    from scored
    join baselines
        on scored.model_version = baselines.model_version
        and scored.feature = baselines.feature
        and (
            (scored.value is null and baselines.bin = 0)
            or (scored.value >= baselines.lower_bound and scored.value < baselines.upper_bound)
        )
    group by all
),

-- Every day's counts: the scored days, and the training days that were not scored.
daily as (
    select * from observed
    union all
    select training.day, training.model_version, training.feature, training.bin, training.flights
    from {{ source('inference', 'feature_daily_bins') }} as training
    anti join scored_days
        on training.day = scored_days.scheduled_dep_date
        and training.model_version = scored_days.model_version
        and training.feature = scored_days.feature
),

reference as (
    select scored_days.scheduled_dep_date, scored_days.model_version, scored_days.feature, daily.bin, sum(daily.flights) as flights
    from scored_days
    join daily
        on daily.model_version = scored_days.model_version
        and daily.feature = scored_days.feature
    join thresholds
        on thresholds.model_version = scored_days.model_version
        and thresholds.feature = scored_days.feature
    where daily.scheduled_dep_date >= scored_days.scheduled_dep_date - thresholds.window_days
        and daily.scheduled_dep_date < scored_days.scheduled_dep_date
    group by all
),

reference_days as (
    select scheduled_dep_date, model_version, feature, sum(flights) as flights
    from reference
    group by all
),

shares as (
    select
        scored_days.scheduled_dep_date,
        scored_days.model_version,
        scored_days.feature,
        baselines.bin,
        coalesce(reference.flights, 0)::double / reference_days.flights as expected_share,
        coalesce(observed.flights, 0)::double / scored_days.flights as actual_share
    from scored_days
    join reference_days using (scheduled_dep_date, model_version, feature)
    join baselines
        on scored_days.model_version = baselines.model_version
        and scored_days.feature = baselines.feature
    left join observed
        on observed.scheduled_dep_date = scored_days.scheduled_dep_date
        and observed.model_version = scored_days.model_version
        and observed.feature = scored_days.feature
        and observed.bin = baselines.bin
    left join reference
        on reference.scheduled_dep_date = scored_days.scheduled_dep_date
        and reference.model_version = scored_days.model_version
        and reference.feature = scored_days.feature
        and reference.bin = baselines.bin
),

psi as (
    select
        scheduled_dep_date,
        model_version,
        feature,
        -- Population stability index; empty bins get a small share so the log stays finite.
        sum(
            (greatest(actual_share, 1e-4) - greatest(expected_share, 1e-4))
            * ln(greatest(actual_share, 1e-4) / greatest(expected_share, 1e-4))
        ) as psi
    from shares
    group by all
),

final as (
    select
        psi.scheduled_dep_date,
        psi.model_version,
        psi.feature,
        psi.psi,
        thresholds.threshold,
        psi.psi > thresholds.threshold as is_alarm
    from psi
    join thresholds using (model_version, feature)
)

select * from final
