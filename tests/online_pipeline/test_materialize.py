"""The freshness check's logic: a group whose newest stored row is past its TTL at the clock is named."""

import datetime as dt

from fti_assets.feature_views.declared import AIRCRAFT_V1, ORIGIN_WEATHER_V1
from fti_assets.feature_views.online import ROUTES, microseconds
from fti_assets.online_pipeline.materialize import stale_groups

CLOCK = dt.datetime(2014, 1, 1, 5)


def test_a_group_past_its_ttl_at_the_clock_is_named_and_one_within_it_is_not():
    newest = {
        ORIGIN_WEATHER_V1.relation: microseconds(dt.datetime(2013, 12, 30, 23)),  # 30 hours old, TTL 3 hours
        AIRCRAFT_V1.relation: microseconds(CLOCK - dt.timedelta(days=6)),  # within its 7 days
    }
    stale = stale_groups(newest, [ORIGIN_WEATHER_V1, AIRCRAFT_V1, ROUTES], CLOCK)
    assert stale == [
        "fg_origin_weather_v1: newest row 2013-12-30 23:00:00, older than its TTL 3:00:00 at the clock 2014-01-01 05:00:00"
    ]
    assert stale_groups({}, [AIRCRAFT_V1], CLOCK) == [
        f"fg_aircraft_v1: no rows, older than its TTL 7 days, 0:00:00 at the clock {CLOCK}"
    ]
