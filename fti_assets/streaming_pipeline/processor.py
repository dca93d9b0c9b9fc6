"""The streaming feature pipeline: events from the log into the online store, as they arrive.

Each batch reads the events stored after the consumer's offset, finds the keys they touch in
each streamed group, recomputes those keys' rows from the log (aggregates.py) and writes the
rows with the new offset in one online-store transaction: a crash replays the batch, and a
replayed batch writes the same rows. The warehouse is never opened here.
"""

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fti_assets.stateful import event_log, online_store
from fti_assets.streaming_pipeline.aggregates import STREAMED_GROUPS, StreamedGroup

CONSUMER = "online_features"


@dataclasses.dataclass(frozen=True)
class Batch:
    """What one batch did: events consumed, rows written per group, and when they were committed."""

    events: int
    rows: dict[str, int]
    last_seq: int
    committed_at: dt.datetime
    received_at: tuple[int, ...]  # each event's arrival in the log, microseconds since the epoch


class Processor:
    """Consumes the event log into the online store; `step()` once, or `run()` until stopped."""

    def __init__(
        self, log: Path, store: Path, groups: Sequence[StreamedGroup] = STREAMED_GROUPS, batch_size: int = 5000
    ):
        self.groups, self.batch_size = groups, batch_size
        self._log = event_log.connect(log)
        self._store = online_store.stream_writer(store)

    def close(self) -> None:
        self._log.close()
        self._store.close()

    def step(self) -> Batch | None:
        """One batch of new events, or None when there is none."""
        offset = online_store.stream_offset(self._store, CONSUMER)
        arrived = event_log.read_after(self._log, offset, self.batch_size)
        if not arrived:
            return None
        touched: dict[int, set] = {i: set() for i in range(len(self.groups))}
        for _, _, event in arrived:
            for i, group in enumerate(self.groups):
                if group.counts(event):
                    touched[i].add(group.key(event))
        rows: dict[str, list[online_store.Row]] = {}
        # Versions of a group read the same events (the plane's day at v1 and v2): read them once.
        scoped: dict[tuple, list[event_log.Event]] = {}
        for i, group in enumerate(self.groups):
            computed = []
            for key in touched[i]:
                if (group.scope, key) not in scoped:
                    scoped[group.scope, key] = group.scope(self._log, key)
                events = scoped[group.scope, key]
                if events:
                    at, values = group.row(events)
                    computed.append((group.entity(key), event_log.microseconds(at), online_store.encode(values)))
            rows[group.group.relation] = computed
        last = arrived[-1][0]
        online_store.apply_stream(self._store, rows, CONSUMER, last)
        return Batch(
            events=len(arrived),
            rows={relation: len(r) for relation, r in rows.items()},
            last_seq=last,
            committed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            received_at=tuple(received for _, received, _ in arrived),
        )

    def drain(self) -> list[Batch]:
        """Every batch until the log holds nothing new."""
        batches = []
        while (batch := self.step()) is not None:
            batches.append(batch)
        return batches

    def run(self, stop: threading.Event, poll_seconds: float = 0.01, on_batch=None) -> None:
        """Consume until `stop` is set, sleeping `poll_seconds` whenever the log holds nothing new."""
        while not stop.is_set():
            batch = self.step()
            if batch is None:
                time.sleep(poll_seconds)
            elif on_batch is not None:
                on_batch(batch)
