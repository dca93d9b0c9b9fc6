-- Stored one row per flight with a column per feature; measured one row per flight and feature.
with scored as (
    from {{ source('inference', 'scored_features') }}
    unpivot include nulls (
        value for feature in (columns(* exclude (flight_id, scheduled_dep_date, model_version)))
    )
),

baselines as (
    select * from {{ source('inference', 'feature_baselines') }}
),

scored_days as (
    select scheduled_dep_date, model_version, feature, count(*) as flights
    from scored
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

shares as (
    select
        scored_days.scheduled_dep_date,
        scored_days.model_version,
        scored_days.feature,
        baselines.bin,
        baselines.expected_share,
        coalesce(observed.flights, 0)::double / scored_days.flights as actual_share
    from scored_days
    join baselines
        on scored_days.model_version = baselines.model_version
        and scored_days.feature = baselines.feature
    left join observed
        on observed.scheduled_dep_date = scored_days.scheduled_dep_date
        and observed.model_version = scored_days.model_version
        and observed.feature = scored_days.feature
        and observed.bin = baselines.bin
),

final as (
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
)

select * from final
