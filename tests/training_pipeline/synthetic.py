"""A tiny warehouse with the feature tables' columns, random but reproducible, built in tmp_path."""

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from fti_assets.feature_views.view import FeatureView
from fti_assets.training_pipeline.snapshot import end_of_local_day_utc

ORIGINS = ["EWR", "JFK", "LGA"]
DESTS = ["ATL", "BOS", "ORD", "MIA"]
CARRIERS = ["AA", "B6", "UA"]
TAILNUMS = ["N1", "N2", "N3", "N4", "N5"]
# Spans the March DST change (2013-03-10): local midnight moves from 05:00 to 04:00 UTC.
FIRST_DAY = dt.date(2013, 2, 20)


def prediction_at(day: dt.date) -> dt.datetime:
    return end_of_local_day_utc(day - dt.timedelta(days=1))


def spine_frame(rng: np.random.Generator, days: int, flights_per_day: int) -> pd.DataFrame:
    rows = []
    for d in range(days):
        day = FIRST_DAY + dt.timedelta(days=d)
        for f in range(flights_per_day):
            origin, dest = rng.choice(ORIGINS), rng.choice(DESTS)
            scheduled = prediction_at(day) + dt.timedelta(hours=int(rng.integers(5, 23)))
            rows.append({
                "flight_id": f"F{f}-{day}",
                "scheduled_dep_date": day,
                "scheduled_dep_at": scheduled,
                "prediction_at": prediction_at(day),
                "carrier": rng.choice(CARRIERS),
                "origin": origin,
                "dest": dest,
                "tailnum": None if rng.random() < 0.05 else rng.choice(TAILNUMS),
                "scheduled_dep_hour_local": float(rng.integers(5, 23)),
                "day_of_week": float(day.isoweekday()),
                "month_of_year": float(day.month),
                "distance_miles": float(rng.integers(200, 2000)),
                "is_disrupted": bool(rng.random() < (0.45 if origin == "EWR" else 0.15)),
                "label_known_at": scheduled + dt.timedelta(hours=float(rng.uniform(1, 30))),
            })
    return pd.DataFrame(rows)


def group_frame(rng: np.random.Generator, keys: list[dict], columns: tuple[str, ...], events: list[dt.datetime]) -> pd.DataFrame:
    """Rows for random subsets of (key, event time), so some keys have gaps longer than the TTL."""
    rows = []
    for key in keys:
        for at in events:
            if rng.random() < 0.6:
                rows.append({**key, "event_at": at, "as_of_date": at.date(), **{c: float(rng.random() if "rate" in c else rng.normal()) for c in columns}})
    return pd.DataFrame(rows)


def event_times(days: int, step: dt.timedelta, jitter: dt.timedelta = dt.timedelta()) -> list[dt.datetime]:
    start = prediction_at(FIRST_DAY) - dt.timedelta(days=10)
    end = prediction_at(FIRST_DAY + dt.timedelta(days=days))
    times, at = [], start
    while at <= end:
        times.append(at + jitter)
        at += step
    return times


def build(path: Path, view: FeatureView, days: int = 40, flights_per_day: int = 30, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Write the spine and every group of `view` into a fresh DuckDB file; returns the frames."""
    rng = np.random.default_rng(seed)
    spine = spine_frame(rng, days, flights_per_day)
    key_values = {"origin": ORIGINS, "dest": DESTS, "carrier": CARRIERS, "tailnum": TAILNUMS}
    # Daily groups land at local midnights (exactly a prediction time); weather hourly; planes at odd times.
    midnights = [prediction_at(FIRST_DAY + dt.timedelta(days=d)) for d in range(-10, days + 1)]
    hourly = event_times(days, dt.timedelta(hours=1))
    odd = event_times(days, dt.timedelta(hours=7), jitter=dt.timedelta(minutes=13, microseconds=1))
    frames = {view.spine_relation: spine}
    for group in view.groups:
        names = [g for _, g in group.join_keys]
        keys = [{}]
        for name in names:
            keys = [{**k, name: v} for k in keys for v in key_values[name]]
        events = {"fg_origin_weather": hourly, "fg_aircraft": odd}.get(group.name, midnights)
        frames[group.relation] = group_frame(rng, keys, group.columns, events)
    with duckdb.connect(str(path)) as connection:
        connection.sql("create schema features")
        for relation, frame in frames.items():
            connection.register("frame", frame)
            connection.sql(f"create table features.{relation} as select * from frame")
            connection.unregister("frame")
    return frames
