"""`fti stream`: one replayed day, live. Events stream in at a chosen speed, the streaming
pipeline keeps the online features current, and each flight of the day is requested from the
online model at its times before departure (when the replayed clock reaches them), through the
same Server the HTTP service runs. It ends with freshness, latencies and the day's accuracy next
to the batch predictions of the same flights.

It runs in a sandbox folder (its own event log and online store, materialized as of the day's
start) so that replaying a past day never touches what the service serves now; the warehouse is
read once, at the start, and never written.
"""

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fti_assets import manifest, settings
from fti_assets.feature_views.declared import view_named
from fti_assets.feature_views.online import FlightRequest, replay_clock
from fti_assets.online_pipeline import materialize
from fti_assets.online_pipeline.serving import Server
from fti_assets.stateful import event_log, registry
from fti_assets.stateful.warehouse import connect
from fti_assets.streaming_pipeline import replay
from fti_assets.streaming_pipeline.processor import Batch, Processor

# The intraday groups' longest look back (the origin's last 3 hours): events this long before
# the day are streamed first, so the day starts with the windows full.
WARM_UP = dt.timedelta(hours=3)


@dataclasses.dataclass(frozen=True)
class Flight:
    request: FlightRequest
    is_disrupted: bool | None
    batch_probability: float | None


@dataclasses.dataclass(frozen=True)
class Answer:
    flight_id: str
    minutes_before: int
    probability: float
    latency_ms: float
    lag_seconds: float  # replayed time the request waited past its due time (the replay outran it)


@dataclasses.dataclass(frozen=True)
class DayReport:
    day: dt.date
    alias: str
    model_version: int
    events: int
    answers: list[Answer]
    freshness_ms: np.ndarray
    flights: list[Flight]
    wall_seconds: float

    def lines(self) -> list[str]:
        latencies = np.array([a.latency_ms for a in self.answers])
        lines = [
            f"day {self.day}, {self.alias} version {self.model_version}: {self.events:,} events and "
            f"{len(self.answers):,} requests in {self.wall_seconds:.1f} s",
            f"freshness (event pushed -> online feature): p50 {_pct(self.freshness_ms, 50)} ms, "
            f"p99 {_pct(self.freshness_ms, 99)} ms, max {_pct(self.freshness_ms, 100)} ms",
            f"latency (request -> answer): p50 {_pct(latencies, 50)} ms, p99 {_pct(latencies, 99)} ms",
        ]
        labels = {f.request.flight_id: f for f in self.flights}
        for minutes in sorted({a.minutes_before for a in self.answers}, reverse=True):
            answered = [a for a in self.answers if a.minutes_before == minutes]
            rows = [(labels[a.flight_id], a.probability) for a in answered]
            rows = [(f, p) for f, p in rows if f.is_disrupted is not None and f.batch_probability is not None]
            y = np.array([f.is_disrupted for f, _ in rows])
            if len(rows) < 2 or y.min() == y.max():
                lines.append(f"{minutes} min before departure: too few labelled flights with batch predictions")
                continue
            online = roc_auc_score(y, [p for _, p in rows])
            batch = roc_auc_score(y, [f.batch_probability for f, _ in rows])
            lines.append(
                f"{minutes:>4} min before departure: ROC AUC online {online:.3f}, batch (midnight) {batch:.3f} "
                f"on the same {len(rows)} flights ({online - batch:+.3f})"
            )
        return lines


def _pct(values: np.ndarray, q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if len(values) else "n/a"


def _flights(connection, day: dt.date) -> list[Flight]:
    """The day's flights as a client names them, with their labels and the champion's batch predictions."""
    batch = (
        "select flight_id, arg_max(probability, scored_at) as probability from inference.predictions "
        "where scheduled_dep_date = $day group by flight_id"
        if _has_predictions(connection)
        else "select null::varchar as flight_id, null::double as probability where false"
    )
    rows = connection.execute(
        f"""
        with batch as ({batch})
        select f.carrier, f.flight_number, f.origin, f.dest, f.tailnum, f.scheduled_dep_at, s.is_disrupted,
            batch.probability
        from staging.stg_flights as f
        left join features.flight_spine_v1 as s using (flight_id)
        left join batch using (flight_id)
        where f.scheduled_dep_date = $day
        order by f.scheduled_dep_at, f.flight_id
        """,
        {"day": day},
    ).fetchall()
    return [
        Flight(FlightRequest(carrier, number, origin, dest, tailnum, at, at), disrupted, probability)
        for carrier, number, origin, dest, tailnum, at, disrupted, probability in rows
    ]


def _has_predictions(connection) -> bool:
    return bool(
        connection.execute(
            "select 1 from information_schema.tables where table_schema = 'inference' and table_name = 'predictions'"
        ).fetchall()
    )


def _requests(flights: Sequence[Flight], minutes_before: Sequence[int]) -> list[tuple[dt.datetime, int, Flight]]:
    due = [
        (f.request.scheduled_dep_at - dt.timedelta(minutes=m), m, f) for f in flights for m in minutes_before
    ]
    return sorted(due, key=lambda d: (d[0], d[2].request.flight_id, -d[1]))


def run_day(
    day: dt.date,
    speed: float,
    folder: Path,
    alias: str = "intraday_champion",
    minutes_before: Sequence[int] = (360, 120, 30),
    prediction_log: Path | None = None,
) -> DayReport:
    """Replay `day` live in `folder` (replaced) and report; `speed` is replayed seconds per second.
    With `prediction_log`, every answer is logged as the service logs its answers, so
    inference/online_predictions and the monitoring models see both systems side by side."""
    warehouse = settings.warehouse_path()
    start, end = replay_clock(day - dt.timedelta(days=1)), replay_clock(day)
    log_path, store_path = folder / "events.sqlite", folder / "online.sqlite"
    with connect(warehouse, read_only=True) as connection:
        model = registry.resolve(connection, alias)
        view = view_named(f"{model.feature_view}_v{model.feature_view_version}")
        warm_up = replay.read_events(connection, start - WARM_UP, start)
        events = replay.read_events(connection, start, end)
        flights = _flights(connection, day)
        if not events or not flights:
            raise LookupError(f"no events or flights on {day} in {warehouse}: is the day delivered?")
        # Only now, when the day can be replayed: a refusal leaves the folder as it was.
        if folder.exists():
            for name in ("events.sqlite", "online.sqlite"):
                for suffix in ("", "-wal", "-shm"):
                    (folder / f"{name}{suffix}").unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        materialize.materialize(connection, store_path, [view], manifest.load(), start)

    processor = Processor(log_path, store_path)
    log = event_log.connect(log_path)
    event_log.append(log, warm_up)
    processor.drain()
    batches: list[Batch] = []
    stop = threading.Event()
    streaming = threading.Thread(target=processor.run, args=(stop,), kwargs={"on_batch": batches.append})
    server = Server(warehouse, store_path, settings.model_store_path(), prediction_log, alias=alias)
    source = replay.Replay(events, speed)
    playing = threading.Thread(target=source.play, args=(log,))
    answers: list[Answer] = []
    started = time.perf_counter()
    streaming.start()
    playing.start()
    try:
        for due_at, minutes, flight in _requests(flights, minutes_before):
            if due_at < start:
                continue
            wait = source.wall_seconds(due_at) - (time.perf_counter() - started)
            if wait > 0:
                time.sleep(wait)
            lag = max(0.0, -wait) * speed
            request = dataclasses.replace(flight.request, prediction_at=due_at)
            asked = time.perf_counter()
            probability = server.predict([request])[0]["probability"]
            answers.append(
                Answer(request.flight_id, minutes, probability, (time.perf_counter() - asked) * 1000, lag)
            )
        playing.join()
    finally:
        source.stop.set()
        playing.join()
        stop.set()
        streaming.join()
    try:
        batches.extend(processor.drain())
    finally:
        server.stop()
        processor.close()
        log.close()
    wall = time.perf_counter() - started
    freshness = np.array([
        (batch.committed_at - event_log.from_microseconds(received)).total_seconds() * 1000
        for batch in batches for received in batch.received_at
    ])
    return DayReport(day, alias, model.version, len(events), answers, freshness, flights, wall)
