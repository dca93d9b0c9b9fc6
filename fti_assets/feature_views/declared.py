"""The declared feature views: one place that says what each model reads.

TTLs follow how often each group is refreshed, so a NULL means "no fresh value", not "slow feed":
- route and carrier-origin history: one row per entity per day, stamped at the next local
  midnight; 2 days tolerates one missed day of the replay, older windows describe another week.
- origin weather: hourly observations; 3 hours tolerates two missing readings, older weather
  says little about the conditions at the prediction time.
- aircraft: one row per known outcome of the plane, with 7-day windows; after 7 days without
  an outcome the plane's week is empty, and its windows are meaningless.
"""

import dataclasses
import datetime as dt

from fti_assets.feature_views.on_demand import MINUTES_TO_DEPARTURE, PLANE_TURNAROUND_MINUTES
from fti_assets.feature_views.view import FeatureGroupRef, FeatureView

ROUTE_HISTORY_V1 = FeatureGroupRef(
    name="fg_route_history",
    version=1,
    join_keys=(("origin", "origin"), ("dest", "dest")),
    columns=tuple(
        f"route_{m}_{w}"
        for w in ("7d", "28d")
        for m in ("flights", "disruption_rate", "mean_arr_delay_minutes", "mean_dep_delay_minutes")
    ),
    ttl=dt.timedelta(days=2),
)

ROUTE_HISTORY_V2 = FeatureGroupRef(
    name="fg_route_history",
    version=2,
    join_keys=(("origin", "origin"), ("dest", "dest")),
    columns=tuple(
        f"route_{m}_{w}"
        for w in ("3d", "7d", "28d")
        for m in (
            "flights", "disruption_rate", "smoothed_disruption_rate", "mean_arr_delay_minutes",
            "mean_dep_delay_minutes",
        )
    ),
    ttl=dt.timedelta(days=2),
)

CARRIER_ORIGIN_HISTORY_V1 = FeatureGroupRef(
    name="fg_carrier_origin_history",
    version=1,
    join_keys=(("carrier", "carrier"), ("origin", "origin")),
    columns=tuple(
        f"carrier_origin_{m}_{w}"
        for w in ("7d", "28d")
        for m in ("flights", "disruption_rate", "mean_arr_delay_minutes", "mean_dep_delay_minutes")
    ),
    ttl=dt.timedelta(days=2),
)

ORIGIN_WEATHER_V1 = FeatureGroupRef(
    name="fg_origin_weather",
    version=1,
    join_keys=(("origin", "origin"),),
    columns=(
        "temp_f", "dewpoint_f", "humidity_pct", "wind_speed_mph", "wind_gust_mph", "precip_inches",
        "pressure_mb", "visibility_miles", "precip_3h_inches", "max_wind_speed_3h_mph",
        "min_visibility_3h_miles", "pressure_change_3h_mb", "precip_6h_inches",
    ),
    ttl=dt.timedelta(hours=3),
)

AIRCRAFT_V1 = FeatureGroupRef(
    name="fg_aircraft",
    version=1,
    join_keys=(("tailnum", "tailnum"),),
    columns=(
        "plane_age_years", "plane_seats", "plane_engines", "plane_last_arr_delay_minutes",
        "plane_flights_7d", "plane_disrupted_flights_7d",
    ),
    ttl=dt.timedelta(days=7),
)

FLIGHT_DISRUPTION_V1 = FeatureView(
    name="flight_disruption",
    version=1,
    spine_relation="flight_spine_v1",
    keys=("flight_id", "scheduled_dep_date"),
    spine_features=(
        "carrier", "origin", "dest", "scheduled_dep_hour_local", "day_of_week", "month_of_year",
        "distance_miles",
    ),
    categorical_features=("carrier", "origin", "dest"),
    label="is_disrupted",
    groups=(ROUTE_HISTORY_V1, CARRIER_ORIGIN_HISTORY_V1, ORIGIN_WEATHER_V1, AIRCRAFT_V1),
)

# Route history v2 (3-day window, smoothed disruption rates); the other groups as in v1.
FLIGHT_DISRUPTION_V2 = dataclasses.replace(
    FLIGHT_DISRUPTION_V1,
    version=2,
    groups=(ROUTE_HISTORY_V2, CARRIER_ORIGIN_HISTORY_V1, ORIGIN_WEATHER_V1, AIRCRAFT_V1),
)

# v1 plus an on-demand feature computed from the request: minutes until the scheduled departure.
FLIGHT_DISRUPTION_V3 = dataclasses.replace(FLIGHT_DISRUPTION_V1, version=3, on_demand=(MINUTES_TO_DEPARTURE,))

# Intraday groups: rows at event times within the day, built offline by dbt from the event
# history (staging.stg_events) and kept current online by the streaming pipeline. TTLs: a
# plane's and a carrier's day are keyed by the date, so a row is fresh all that day; the
# origin's last hours go stale when nothing has left for an hour; weather is read hourly.
PLANE_TODAY_V1 = FeatureGroupRef(
    name="fg_plane_today",
    version=1,
    join_keys=(("tailnum", "tailnum"), ("scheduled_dep_date", "scheduled_dep_date")),
    columns=(
        "plane_legs_departed_today", "plane_legs_unarrived_today", "plane_last_dep_delay_minutes_today",
        "plane_last_arr_delay_minutes_today", "plane_max_dep_delay_minutes_today",
    ),
    ttl=dt.timedelta(days=1),
    streamed=True,
)

# v1 plus the time the plane's latest leg arrived, read by the turnaround on-demand feature.
PLANE_TODAY_V2 = dataclasses.replace(PLANE_TODAY_V1, version=2, inputs=("latest_arrived_at",))

ORIGIN_DEPARTURES_RECENT_V1 = FeatureGroupRef(
    name="fg_origin_departures_recent",
    version=1,
    join_keys=(("origin", "origin"),),
    columns=(
        "origin_departures_1h", "origin_mean_dep_delay_minutes_1h", "origin_departures_3h",
        "origin_mean_dep_delay_minutes_3h", "origin_delayed_share_3h", "origin_cancellations_3h",
    ),
    ttl=dt.timedelta(hours=1),
    streamed=True,
)

CARRIER_ORIGIN_TODAY_V1 = FeatureGroupRef(
    name="fg_carrier_origin_today",
    version=1,
    join_keys=(("carrier", "carrier"), ("origin", "origin"), ("scheduled_dep_date", "scheduled_dep_date")),
    columns=(
        "carrier_origin_departures_today", "carrier_origin_mean_dep_delay_minutes_today",
        "carrier_origin_delayed_share_today", "carrier_origin_cancellations_today",
    ),
    ttl=dt.timedelta(days=1),
    streamed=True,
)

ORIGIN_WEATHER_LATEST_V1 = FeatureGroupRef(
    name="fg_origin_weather_latest",
    version=1,
    join_keys=(("origin", "origin"),),
    columns=(
        "temp_f", "dewpoint_f", "humidity_pct", "wind_speed_mph", "wind_gust_mph", "precip_inches",
        "pressure_mb", "visibility_miles",
    ),
    ttl=dt.timedelta(hours=2),
    streamed=True,
)

# The online model: predicted at any time before departure (the spine samples 6 h, 2 h and
# 30 min), from the daily history groups and the intraday ones; its own aliases.
FLIGHT_DISRUPTION_INTRADAY_V1 = FeatureView(
    name="flight_disruption_intraday",
    version=1,
    spine_relation="flight_spine_intraday_v1",
    keys=("flight_id", "scheduled_dep_date", "minutes_before_departure"),
    spine_features=FLIGHT_DISRUPTION_V1.spine_features,
    categorical_features=FLIGHT_DISRUPTION_V1.categorical_features,
    label="is_disrupted",
    groups=(
        ROUTE_HISTORY_V1, CARRIER_ORIGIN_HISTORY_V1, PLANE_TODAY_V1, ORIGIN_DEPARTURES_RECENT_V1,
        CARRIER_ORIGIN_TODAY_V1, ORIGIN_WEATHER_LATEST_V1,
    ),
    on_demand=(MINUTES_TO_DEPARTURE,),
    system="intraday",
)

# v1 with the plane's day at v2, and the minutes from its latest arrival to this departure.
FLIGHT_DISRUPTION_INTRADAY_V2 = dataclasses.replace(
    FLIGHT_DISRUPTION_INTRADAY_V1,
    version=2,
    groups=tuple(PLANE_TODAY_V2 if g == PLANE_TODAY_V1 else g for g in FLIGHT_DISRUPTION_INTRADAY_V1.groups),
    on_demand=(MINUTES_TO_DEPARTURE, PLANE_TURNAROUND_MINUTES),
)

VIEWS = {
    f"{v.name}_v{v.version}": v
    for v in (
        FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V2, FLIGHT_DISRUPTION_V3, FLIGHT_DISRUPTION_INTRADAY_V1,
        FLIGHT_DISRUPTION_INTRADAY_V2,
    )
}


def view_named(name: str) -> FeatureView:
    """A declared view by its versioned name, e.g. `flight_disruption_v2`."""
    if name not in VIEWS:
        raise LookupError(f"no feature view {name!r}; declared: {', '.join(VIEWS)}")
    return VIEWS[name]
