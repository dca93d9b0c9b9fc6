"""The scored few-day warehouse with an online store, and the service running on it over HTTP."""

import contextlib
import copy
import datetime as dt
import socket
import threading
import time

import duckdb
import httpx
import pytest
import uvicorn

from fti_assets import manifest as dbt_manifest
from fti_assets import settings
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V3
from fti_assets.feature_views.online import FlightRequest, replay_clock
from fti_assets.online_pipeline import materialize
from fti_assets.online_pipeline.service import create_app
from fti_assets.online_pipeline.serving import Server
from tests.conftest import LAST

# Day 5's flights are predicted at its start: the store as of the end of day 4.
CLOCK = replay_clock(LAST - dt.timedelta(days=1))


def manifest() -> dict:
    """A copy: tests edit it."""
    return copy.deepcopy(dbt_manifest.load())


def materialize_at(warehouse, store, clock, views=(FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V3), manifest_=None):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return materialize.materialize(connection, store, list(views), manifest_ or manifest(), clock)


def day_flights(warehouse, day=LAST) -> list[FlightRequest]:
    """Every flight of the day as a client would name it, predicted at the spine's prediction time."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select flight_id, carrier, origin, dest, tailnum, scheduled_dep_at, prediction_at "
            "from features.flight_spine_v1 where scheduled_dep_date = ? order by flight_id", [day]
        ).fetchall()
    return [
        FlightRequest(carrier, int(flight_id.split("-")[1]), origin, dest, tailnum, scheduled, predicted)
        for flight_id, carrier, origin, dest, tailnum, scheduled, predicted in rows
    ]


def as_json(flight: FlightRequest, with_time: bool = True) -> dict:
    body = {
        "carrier": flight.carrier, "flight_number": flight.flight_number, "origin": flight.origin, "dest": flight.dest,
        "tailnum": flight.tailnum, "scheduled_dep_at": flight.scheduled_dep_at.isoformat() + "Z",
    }
    return {**body, "request_at": flight.prediction_at.isoformat() + "Z"} if with_time else body


@pytest.fixture
def online(scored_copy):
    """A private copy of the scored warehouse, its online store materialized at CLOCK."""
    materialize_at(scored_copy, settings.online_store_path(), CLOCK)
    return scored_copy


@contextlib.contextmanager
def serving(poll_seconds: float = 0.1):
    """`fti serve`'s app (with its push endpoint) on a free 127.0.0.1 port in this process;
    yields (client, server)."""
    server = Server(
        settings.warehouse_path(), settings.online_store_path(), settings.model_store_path(),
        settings.prediction_log_dir(), poll_seconds=poll_seconds,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(server, settings.event_log_path())
    http = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not http.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, server
    finally:
        http.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def streaming(call):
    """`call()` again and again in a background thread while the block runs; yields its results."""
    results, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            results.append(call())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield results
    finally:
        stop.set()
        thread.join(timeout=30)
