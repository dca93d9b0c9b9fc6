"""The online service's logic, without HTTP: the model behind an alias, followed as it moves,
and predictions from the online store through the model's own feature view.

No warehouse connection is ever opened here. The aliases come from the file the registry
publishes beside the warehouse whenever one moves (`registry.publish_aliases`), polled by a
background thread that loads the new model and then swaps it in: a request uses the model it
started with, so none fails while the alias moves. Each read of the store returns the feature
views' fingerprints with the rows, and a model whose fingerprint differs is refused.
"""

import dataclasses
import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fti_assets.feature_views.declared import view_named
from fti_assets.feature_views.fast_model import FastModel, UnsupportedPipeline
from fti_assets.feature_views.online import FlightRequest, OnlineView
from fti_assets.feature_views.view import FeatureView, changed_parts, model_inputs
from fti_assets.online_pipeline.prediction_log import PredictionLog
from fti_assets.stateful import model_store, online_store, registry

MAX_BATCH = 1000


class NotServable(RuntimeError):
    """The model cannot be served from the store as it is (a 503, with the reason)."""


class _PipelineModel:
    """A pipeline the fast path does not reproduce, called as batch scoring calls it."""

    def __init__(self, pipeline: Any, view: FeatureView):
        self.pipeline, self.view = pipeline, view

    def predict_proba(self, rows: Sequence[dict[str, Any]]):
        return self.pipeline.predict_proba(model_inputs(pd.DataFrame(list(rows)), self.view))[:, 1]


@dataclasses.dataclass(frozen=True)
class Served:
    """One loaded model version with everything a request needs."""

    alias: str
    row: dict[str, Any]
    view: FeatureView
    online: OnlineView
    model: Any
    loaded_at: dt.datetime

    @property
    def version(self) -> int:
        return int(self.row["version"])

    @property
    def view_name(self) -> str:
        return f"{self.view.name}_v{self.view.version}"


def load_served(alias: str, row: dict[str, Any], store: Path) -> Served:
    """The model artifact (hash and types checked by the model store) and its view's online path."""
    view = view_named(f"{row['feature_view']}_v{row['feature_view_version']}")
    pipeline = model_store.load(store, row["artifact_path"], row["artifact_sha256"])
    try:
        model = FastModel(pipeline)
    except UnsupportedPipeline:
        model = _PipelineModel(pipeline, view)
    return Served(alias, row, view, OnlineView(view), model, dt.datetime.now(dt.UTC).replace(tzinfo=None))


class Server:
    """Predictions for flights; call `start()` to follow the alias, `stop()` to end."""

    def __init__(
        self,
        warehouse: Path,
        store: Path,
        artifacts: Path,
        log_dir: Path | None,
        alias: str = "champion",
        threshold: float = 0.5,
        poll_seconds: float = 0.2,
    ):
        self.warehouse, self.store_path, self.artifacts = warehouse, store, artifacts
        self.alias, self.threshold, self.poll_seconds = alias, threshold, poll_seconds
        self.reader = online_store.Reader(store)
        self._aliases_seen: tuple | None = None
        self.follow_error: str | None = None
        self.served = self._load_published(initial=True)
        self.log = PredictionLog(log_dir) if log_dir is not None else None  # after the refusals: they write nothing
        self._parts: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="follow-alias", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.log is not None:
            self.log.close()

    def _aliases_file_state(self) -> tuple | None:
        try:
            stat = os.stat(self.warehouse.parent / registry.PUBLISHED_ALIASES)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _load_published(self, initial: bool = False) -> Served | None:
        self._aliases_seen = self._aliases_file_state()
        published = registry.read_published_aliases(self.warehouse)
        version = published["aliases"].get(self.alias)
        if version is None:
            raise LookupError(f"no {self.alias} in the registry: run the training_job first")
        if not initial and version == self.served.version:
            return None
        return load_served(self.alias, published["versions"][str(version)], self.artifacts)

    def follow_once(self) -> None:
        """Swap in the alias's model if the published aliases moved it."""
        if self._aliases_file_state() == self._aliases_seen:
            return
        try:
            served = self._load_published()
            self.follow_error = None
        except Exception as problem:  # keep serving the loaded model, and say why in /health
            self.follow_error = f"{type(problem).__name__}: {problem}"
            return
        if served is not None:
            self.served = served

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.follow_once()

    def _state_parts(self, version: int) -> dict[str, Any]:
        if version not in self._parts:
            stored_version, meta = online_store.read_state(self.store_path)
            self._parts[stored_version] = meta.get("parts", {})
        return self._parts.get(version, {})

    def check(self, served: Served, snapshot: online_store.Snapshot) -> None:
        """Raise NotServable, naming what differs, unless the store serves the model's features."""
        stored = snapshot.fingerprints.get(served.view_name)
        expected = served.row["fingerprint"]
        state = f"the online store (state {snapshot.version}, clock {snapshot.clock})"
        if stored is None:
            raise NotServable(
                f"model version {served.version} ({self.alias}) reads feature view {served.view_name}, but {state} "
                f"serves {', '.join(sorted(snapshot.fingerprints)) or 'no view'}: materialize online/online_features "
                "while this version is champion or challenger"
            )
        if stored != expected:
            recorded = served.row.get("input_versions", {}).get("fingerprint_parts") or {}
            live = self._state_parts(snapshot.version).get(served.view_name, {})
            changed = changed_parts(recorded, live) if recorded and live else ["(parts not recorded)"]
            raise NotServable(
                f"model version {served.version} ({self.alias}) was trained on feature view {served.view_name} with "
                f"fingerprint {expected[:12]}, but {state} holds it with fingerprint {stored[:12]}: changed since: "
                f"{', '.join(changed)}. Retrain, or roll back to a version trained on these features "
                "(`fti promote --version N`)."
            )

    def health(self) -> dict[str, Any]:
        served = self.served
        snapshot = self.reader.read([])
        try:
            self.check(served, snapshot)
            problem = None
        except NotServable as refused:
            problem = str(refused)
        return {
            "status": "ok" if problem is None else "unavailable",
            "problem": problem,
            "model_version": served.version,
            "feature_view": served.view_name,
            "store_version": snapshot.version,
            "store_clock": snapshot.clock,
            "follow_error": self.follow_error,
        }

    def model_info(self) -> dict[str, Any]:
        served = self.served
        row = served.row
        return {
            "alias": served.alias,
            "version": served.version,
            "feature_view": served.view_name,
            "fingerprint": row["fingerprint"],
            "snapshot_id": row["snapshot_id"],
            "created_at": str(row["created_at"]),
            "artifact_sha256": row["artifact_sha256"],
            "test_roc_auc": (row.get("metrics") or {}).get("test", {}).get("model", {}).get("roc_auc"),
            "loaded_at": served.loaded_at.isoformat(),
            "features": list(served.view.features),
            "fast_path": isinstance(served.model, FastModel),
        }

    def predict(self, flights: Sequence[FlightRequest], include_features: bool = False) -> list[dict[str, Any]]:
        """One answer per flight, all from one state of the store and one model version.
        A flight without `prediction_at` is predicted at the store's clock (the replay's now)."""
        started = time.perf_counter()
        served = self.served
        keys = [served.online.keys(f) for f in flights]
        snapshot = self.reader.read(list({k for ks in keys for k in ks if k is not None}))
        self.check(served, snapshot)
        clock = dt.datetime.fromisoformat(snapshot.clock)
        flights = [f if f.prediction_at is not None else dataclasses.replace(f, prediction_at=clock) for f in flights]
        vectors = [served.online.vector(f, snapshot.rows, k) for f, k in zip(flights, keys, strict=True)]
        probabilities = served.model.predict_proba(vectors)
        latency_ms = (time.perf_counter() - started) * 1000
        served_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
        answers, records = [], []
        for flight, vector, probability in zip(flights, vectors, probabilities, strict=True):
            answer = {
                "flight_id": flight.flight_id,
                "probability": float(probability),
                "predicted_disrupted": bool(probability >= self.threshold),
                "threshold": self.threshold,
                "prediction_at": flight.prediction_at.isoformat(),
                "model_version": served.version,
                "feature_view": served.view_name,
                "fingerprint": served.row["fingerprint"],
                "store_version": snapshot.version,
            }
            answers.append({**answer, "features": vector} if include_features else answer)
            if self.log is not None:
                records.append(
                    {
                        **answer,
                        "request_id": uuid.uuid4().hex,
                        "served_at": served_at,
                        "scheduled_dep_date": flight.scheduled_dep_local.date().isoformat(),
                        "scheduled_dep_at": flight.scheduled_dep_at.isoformat(),
                        "carrier": flight.carrier,
                        "flight_number": flight.flight_number,
                        "origin": flight.origin,
                        "dest": flight.dest,
                        "tailnum": flight.tailnum,
                        "feature_view": served.view.name,
                        "feature_view_version": served.view.version,
                        "latency_ms": latency_ms,
                        "batch_size": len(flights),
                        "features": vector,
                    }
                )
        if records:
            self.log.append(records)
        return answers
