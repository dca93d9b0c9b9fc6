"""The online path of a feature view: the vector of one flight at a request time, from the
online store's latest rows, built from the same declaration as `point_in_time_sql`.

Offline, a group row joins when its event time is at or before the prediction time and newer
than the TTL; here the store holds each key's latest row as of the replay clock, and the same
two conditions decide whether it counts. A key the store does not hold gives NULLs, as the
ASOF LEFT JOIN does. A row newer than the request time was not known then, so it gives NULLs
too (the store keeps no older rows: asking about the past is the offline path's job).

Spine features are the flight's schedule: the request carries carrier, origin and dest; the
hour, weekday and month come from the scheduled departure in local time, as the dbt spine
computes them (the parity test holds the two to the same values for every flight of a day);
the route's distance is looked up in the store (`ROUTES`), written from the spine.
"""

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fti_assets import constants
from fti_assets.feature_views.view import FeatureGroupRef, FeatureView

LOCAL_TIMEZONE = ZoneInfo(constants.LOCAL_TIMEZONE)
EPOCH = dt.datetime(1970, 1, 1)

# The route attributes the spine carries per flight, stored per route: the latest scheduled value.
ROUTES = FeatureGroupRef(
    name="routes",
    version=1,
    join_keys=(("origin", "origin"), ("dest", "dest")),
    columns=("distance_miles",),
    ttl=dt.timedelta.max,
)


@dataclasses.dataclass(frozen=True)
class FlightRequest:
    """One flight as a client names it; timestamps are naive UTC, as everything stored."""

    carrier: str
    flight_number: int
    origin: str
    dest: str
    tailnum: str | None
    scheduled_dep_at: dt.datetime
    prediction_at: dt.datetime

    @functools.cached_property
    def scheduled_dep_local(self) -> dt.datetime:
        return self.scheduled_dep_at.replace(tzinfo=dt.UTC).astimezone(LOCAL_TIMEZONE)

    @property
    def flight_id(self) -> str:
        """The spine's key: carrier, number, origin and the local departure day."""
        return f"{self.carrier}-{self.flight_number}-{self.origin}-{self.scheduled_dep_local.date().isoformat()}"


SCHEDULE_FEATURES: dict[str, Callable[[FlightRequest], Any]] = {
    "carrier": lambda r: r.carrier,
    "origin": lambda r: r.origin,
    "dest": lambda r: r.dest,
    "scheduled_dep_hour_local": lambda r: float(r.scheduled_dep_local.hour),
    "day_of_week": lambda r: float(r.scheduled_dep_local.isoweekday()),
    "month_of_year": lambda r: float(r.scheduled_dep_local.month),
}


def replay_clock(day: dt.date) -> dt.datetime:
    """The replay's now after `day` is delivered: the next local midnight, as naive UTC."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LOCAL_TIMEZONE)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


# The request's columns on-demand features may read (the spine's, offline); the others they
# read are the view's group inputs.
REQUEST_TIMES = ("scheduled_dep_at", "prediction_at")


def microseconds(at: dt.datetime) -> int:
    """A naive UTC timestamp as the store keeps event times."""
    return (at - EPOCH) // dt.timedelta(microseconds=1)


def served_groups(view: FeatureView) -> tuple[FeatureGroupRef, ...]:
    """The stored relations a view's vector reads: its groups, and routes for spine lookups."""
    lookups = (ROUTES,) if set(ROUTES.columns) & set(view.spine_features) else ()
    return (*view.groups, *lookups)


def check_servable(view: FeatureView) -> None:
    """Every spine feature must come from the request or a stored lookup, and every on-demand
    input from the request or a group row, in a type the online path reads."""
    missing = set(view.spine_features) - set(SCHEDULE_FEATURES) - set(ROUTES.columns)
    missing |= set(view.on_demand_inputs) - set(REQUEST_TIMES)
    missing |= {c for f in view.on_demand for c, t in zip(f.inputs, f.input_types, strict=True) if t not in NUMPY_TYPES}
    if missing:
        raise ValueError(f"feature view {view.name} v{view.version}: the online path cannot build {sorted(missing)}")


def entity(group: FeatureGroupRef, values: Mapping[str, Any]) -> str | None:
    """A group's entity key from the spine columns it joins on; None when one is NULL (no match)."""
    parts = [values.get(spine_column) for spine_column, _ in group.join_keys]
    return None if any(p is None for p in parts) else "|".join(str(p) for p in parts)


class OnlineView:
    """A feature view's online vector builder: which store keys to read, and how to fill the vector."""

    def __init__(self, view: FeatureView):
        check_servable(view)
        self.view = view
        self.groups = served_groups(view)
        self._ttl_us = [
            None if g.ttl == dt.timedelta.max else g.ttl // dt.timedelta(microseconds=1) for g in self.groups
        ]
        self._spine = [(name, SCHEDULE_FEATURES.get(name)) for name in view.spine_features]

    def keys(self, request: FlightRequest) -> list[str | None]:
        """The store key of each served group for this flight (None: a NULL join key)."""
        values = {
            "carrier": request.carrier,
            "origin": request.origin,
            "dest": request.dest,
            "tailnum": request.tailnum,
            "scheduled_dep_date": request.scheduled_dep_local.date().isoformat(),
        }
        return [None if (e := entity(g, values)) is None else f"{g.relation}:{e}" for g in self.groups]

    def vector(
        self, request: FlightRequest, rows: Mapping[str, tuple[int, str]], keys: Sequence[str | None]
    ) -> dict[str, Any]:
        """Spine, group and on-demand features in the view's order, NULLs where nothing fresh is known."""
        at = microseconds(request.prediction_at)
        known: dict[str, Any] = {}
        for group, key, ttl in zip(self.groups, keys, self._ttl_us, strict=True):
            row = rows.get(key) if key is not None else None
            if row is not None and row[0] <= at and (ttl is None or row[0] > at - ttl):
                known.update(zip(group.row_columns, json.loads(row[1]), strict=True))
        vector = {name: compute(request) if compute is not None else known.get(name) for name, compute in self._spine}
        vector.update((column, known.get(column)) for column in self.view.group_features)
        if self.view.on_demand:
            vector.update(on_demand_values(self.view, [request], [known])[0])
        return vector


# How an on-demand input's declared SQL type reads into numpy (None becomes NaT or NaN).
NUMPY_TYPES = {"TIMESTAMP": "datetime64[us]", "DOUBLE": "float64"}


def on_demand_values(
    view: FeatureView, requests: Sequence[FlightRequest], known: Sequence[Mapping[str, Any]]
) -> list[dict[str, float | None]]:
    """Each on-demand feature of the view, computed by its one definition over the requests;
    group inputs come from `known`, each request's fresh group values (a missing one is NULL,
    as the offline join gives past the TTL or without a row)."""
    if not view.on_demand:
        return [{} for _ in requests]

    def column(name: str, sql_type: str) -> np.ndarray:
        if name in view.group_inputs:
            return np.array([k.get(name) for k in known], dtype=NUMPY_TYPES[sql_type])
        return np.array([getattr(r, name) for r in requests], dtype=NUMPY_TYPES[sql_type])

    computed = {
        f.name: f.function(*(column(c, t) for c, t in zip(f.inputs, f.input_types, strict=True)))
        for f in view.on_demand
    }
    return [
        {name: (None if np.isnan(values[i]) else float(values[i])) for name, values in computed.items()}
        for i in range(len(requests))
    ]
