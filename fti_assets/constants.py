"""The system's fixed choices, each stated once: the replay's calendar and the decision thresholds.

The SQL side reads the time zone from dbt's `local_timezone` var (dbt_project/dbt_project.yml);
tests/test_constants.py keeps the two equal.
"""

# Every replay day is a local New York day; stored timestamps are UTC (README, "Time").
LOCAL_TIMEZONE = "America/New_York"

# The replay: the local days of 2013, one partition each (the end is exclusive).
REPLAY_START = "2013-01-01"
REPLAY_END_EXCLUSIVE = "2014-01-01"

# A flight is predicted disrupted at or above this probability; 0.5 favours precision (about
# 1 flight in 4 is disrupted).
PREDICTION_THRESHOLD = 0.5

# Retrain when the champion's daily ROC AUC stays below RETRAIN_MIN_ROC_AUC for RETRAIN_DAYS
# judged days in a row (days with RETRAIN_MIN_FLIGHTS labelled flights or more). 0.60 is well
# below what the model reaches on 2013 and above the route baseline's, so it fires on a real
# drop, not on ordinary day-to-day noise. FTI_RETRAIN_MIN_ROC_AUC / FTI_RETRAIN_DAYS override.
RETRAIN_MIN_ROC_AUC = 0.60
RETRAIN_DAYS = 3
RETRAIN_MIN_FLIGHTS = 100

# The promotion gate: no carrier or origin with PROMOTION_MIN_GROUP_ROWS test rows or more may
# score a ROC AUC more than PROMOTION_MAX_GROUP_GAP below the challenger's overall one
# (training_pipeline/promotion.py says why).
PROMOTION_MIN_GROUP_ROWS = 500
PROMOTION_MAX_GROUP_GAP = 0.10

# Drift monitoring (monitoring.mon_feature_drift): calendar features describe the day itself, so
# a day's weekday or month differing from the weeks before it is not drift; they are not
# monitored. Each monitored feature's day is compared with the DRIFT_WINDOW_DAYS days before it;
# its alarm threshold is the DRIFT_THRESHOLD_QUANTILE of that PSI over the training days, times
# DRIFT_THRESHOLD_MARGIN (stateful/feature_baselines.py).
CALENDAR_FEATURES = ("day_of_week", "month_of_year")
DRIFT_WINDOW_DAYS = 28
DRIFT_THRESHOLD_QUANTILE = 0.99
DRIFT_THRESHOLD_MARGIN = 1.5

# Per-segment drift (monitoring.mon_segment_drift), by feature group: the group's values are
# measured per segment (its join keys), and a shift confined to one segment hides in the whole
# population. "other airports": each airport's day against the other airports on the same day
# (a sensor offset stands out against its neighbours, weather over all three does not). "own
# past": each segment's day against its own DRIFT_WINDOW_DAYS days before it; a segment moved
# when its value, or its step (its change less the day's median change over the segments), lies
# further outside that window's range than the range is wide, and the day alarms when the share
# of flights on moved segments is high (a route's or every route's delays doubling).
# Thresholds: the same quantile and margin as above, on the training days.
SEGMENT_DRIFT_BASELINES = {
    "fg_origin_weather": "other airports",
    "fg_route_history": "own past",
    "fg_carrier_origin_history": "own past",
}
# A segment is judged against its own past only with at least this many days of it in the window.
SEGMENT_DRIFT_MIN_PAST_DAYS = 7
