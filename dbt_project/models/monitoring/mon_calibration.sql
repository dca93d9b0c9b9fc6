with labelled as (
    select * from {{ ref('mon_labelled_predictions') }}
),

binned as (
    select
        model_version,
        -- Ten equal-width bins of predicted probability; 1.0 belongs to the last one.
        least(floor(probability * 10), 9)::integer as probability_bin,
        probability,
        is_disrupted
    from labelled
),

final as (
    select
        model_version,
        probability_bin,
        probability_bin / 10.0 as bin_lower,
        (probability_bin + 1) / 10.0 as bin_upper,
        count(*) as flights,
        avg(probability) as mean_predicted,
        avg(is_disrupted::double) as observed_rate
    from binned
    group by model_version, probability_bin
)

select * from final
