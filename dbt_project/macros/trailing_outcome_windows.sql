{#- Trailing-window outcome features per entity, one row per entity per day, "as known at the
    end of the day": day X counts outcomes known on days X-n+1 .. X, and its event time is the
    next local midnight, the prediction time of day X+1. A value from day X+1 can therefore
    never reach a prediction made at the start of X+1.

    The grid is dense (every entity, every day while it has outcomes in the longest window)
    so that old outcomes leave the window on the right day.

    `prior_flights` (optional) adds `<prefix>smoothed_disruption_rate_<n>d`: the window's
    disrupted share shrunk towards the whole network's share in the same window, as if the
    entity had `prior_flights` more flights at the network's rate (a Beta prior). A route with
    2 flights, both late, no longer reads as "always disrupted". -#}

{% macro trailing_outcome_windows(daily_relation, entity_columns, windows=[7, 28], prefix='', prior_flights=none) %}
{%- set longest = windows | max -%}
{%- set rebuild_days = var('window_rebuild_days') -%}
{%- set entities = entity_columns | join(', ') -%}

daily as (
    select * from {{ daily_relation }}
    where {{ replay_dates_filter('outcome_known_date', 'as_of_date', rebuild_days, lookback_days=longest) }}
),

bounds as (
    select
        greatest({{ replay_write_start('as_of_date', rebuild_days) }}, min(outcome_known_date)) as first_date,
        -- Never past the last delivered day: later rows would be missing outcomes.
        least({{ replay_write_end(rebuild_days) }}, (select max(scheduled_dep_date) from {{ ref('stg_flights') }})) as last_date
    from daily
),

days as (
    {{ days_between('first_date - ' ~ longest, 'last_date', 'bounds', 'as_of_date') }}
),

entities as (
    select distinct {{ entities }} from daily
),

grid as (
    select {{ entities }}, as_of_date from entities cross join days
),

dense as (
    select
        grid.*,
        coalesce(daily.flights, 0) as flights,
        coalesce(daily.disrupted_flights, 0) as disrupted_flights,
        coalesce(daily.arr_delay_minutes_sum, 0) as arr_delay_minutes_sum,
        coalesce(daily.arrived_flights, 0) as arrived_flights,
        coalesce(daily.dep_delay_minutes_sum, 0) as dep_delay_minutes_sum,
        coalesce(daily.departed_flights, 0) as departed_flights
    from grid
    left join daily
        on {% for e in entity_columns %}grid.{{ e }} = daily.{{ e }} and {% endfor %}daily.outcome_known_date = grid.as_of_date
),

windowed as (
    select
        {{ entities }},
        as_of_date,
        {%- for n in windows %}
        sum(flights) over w{{ n }} as flights_{{ n }}d,
        sum(disrupted_flights) over w{{ n }} as disrupted_flights_{{ n }}d,
        sum(arr_delay_minutes_sum) over w{{ n }} as arr_delay_minutes_sum_{{ n }}d,
        sum(arrived_flights) over w{{ n }} as arrived_flights_{{ n }}d,
        sum(dep_delay_minutes_sum) over w{{ n }} as dep_delay_minutes_sum_{{ n }}d,
        sum(departed_flights) over w{{ n }} as departed_flights_{{ n }}d{{ ',' if not loop.last }}
        {%- endfor %}
    from dense
    window
        {%- for n in windows %}
        w{{ n }} as (partition by {{ entities }} order by as_of_date rows between {{ n - 1 }} preceding and current row){{ ',' if not loop.last }}
        {%- endfor %}
),

final as (
    select
        {{ entities }},
        as_of_date,
        {{ local_midnight_utc('as_of_date + 1') }} as event_at,
        {%- for n in windows %}
        cast(flights_{{ n }}d as integer) as {{ prefix }}flights_{{ n }}d,
        cast(disrupted_flights_{{ n }}d as double) / nullif(flights_{{ n }}d, 0) as {{ prefix }}disruption_rate_{{ n }}d,
        arr_delay_minutes_sum_{{ n }}d / nullif(arrived_flights_{{ n }}d, 0) as {{ prefix }}mean_arr_delay_minutes_{{ n }}d,
        dep_delay_minutes_sum_{{ n }}d / nullif(departed_flights_{{ n }}d, 0) as {{ prefix }}mean_dep_delay_minutes_{{ n }}d
        {%- if prior_flights is not none %},
        {#- Rows the `where` drops have no flights in any window: the day's totals stay whole. #}
        (disrupted_flights_{{ n }}d + {{ prior_flights }} * sum(disrupted_flights_{{ n }}d) over day_network
            / nullif(sum(flights_{{ n }}d) over day_network, 0))
            / (flights_{{ n }}d + {{ prior_flights }}) as {{ prefix }}smoothed_disruption_rate_{{ n }}d
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from windowed, bounds
    where as_of_date between bounds.first_date and bounds.last_date
        and flights_{{ longest }}d > 0
    {%- if prior_flights is not none %}
    window day_network as (partition by as_of_date)
    {%- endif %}
)

select * from final
{% endmacro %}
