"""The limit the training snapshot is measured against (benchmarks/run_all.py, stage
`snapshot`): the same rows written by hand as one DuckDB query with four ASOF joins."""

import datetime as dt

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.training_pipeline import snapshot


def hand_written(cutoff: dt.date) -> str:
    """The same rows, written by hand: four ASOF joins and the TTLs inline."""
    boundary = snapshot.end_of_local_day_utc(cutoff)
    route, carrier, weather, plane = (group.columns for group in VIEW.groups)

    def fresh(alias, columns, ttl):
        return ", ".join(f"case when {alias}.event_at > s.prediction_at - interval {ttl} then {alias}.{c} end as {c}" for c in columns)

    return f"""
        create table hand_written as
        select s.flight_id, s.scheduled_dep_date, s.carrier, s.origin, s.dest, s.scheduled_dep_hour_local,
            s.day_of_week, s.month_of_year, s.distance_miles, s.prediction_at, s.is_disrupted,
            {fresh('r', route, "2 day")}, {fresh('c', carrier, "2 day")},
            {fresh('w', weather, "3 hour")}, {fresh('p', plane, "7 day")}
        from features.flight_spine_v1 s
        asof left join features.fg_route_history_v1 r on s.origin = r.origin and s.dest = r.dest and s.prediction_at >= r.event_at
        asof left join features.fg_carrier_origin_history_v1 c on s.carrier = c.carrier and s.origin = c.origin and s.prediction_at >= c.event_at
        asof left join features.fg_origin_weather_v1 w on s.origin = w.origin and s.prediction_at >= w.event_at
        asof left join features.fg_aircraft_v1 p on s.tailnum = p.tailnum and s.prediction_at >= p.event_at
        where s.scheduled_dep_date <= date '{cutoff}' and s.label_known_at <= timestamp '{boundary}'
            and s.origin is not null and s.dest is not null and s.carrier is not null and s.tailnum is not null
        order by s.flight_id, s.scheduled_dep_date
    """

