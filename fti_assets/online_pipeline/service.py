"""`fti serve`: the HTTP face of the online service (FastAPI on uvicorn).

FastAPI because its typed request models give what the service promises for free: a 422 that
names the malformed field, and OpenAPI docs at /docs; it is Starlette underneath, run by
uvicorn (with uvloop and httptools), so the framework costs a few hundred microseconds.
"""

import datetime as dt
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fti_assets.feature_views.online import FlightRequest
from fti_assets.online_pipeline.serving import MAX_BATCH, NotServable, Server
from fti_assets.stateful import event_log
from fti_assets.stateful.online_store import StoreMissing


class Flight(BaseModel):
    """A flight as a travel app knows it. Times carry a UTC offset; a time without one is UTC."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(pattern=r"^[A-Z0-9]{2}$", examples=["UA"], description="IATA carrier code")
    flight_number: int = Field(ge=1, le=9999, examples=[1545])
    origin: str = Field(pattern=r"^[A-Z]{3}$", examples=["EWR"], description="IATA airport code")
    dest: str = Field(pattern=r"^[A-Z]{3}$", examples=["IAH"])
    tailnum: str | None = Field(default=None, max_length=10, examples=["N14228"], description="the plane, if known")
    scheduled_dep_at: dt.datetime = Field(examples=["2013-12-31T05:15:00-05:00"])
    request_at: dt.datetime | None = Field(
        default=None,
        description="the prediction time; default: the online store's clock "
        "(the replay's now: the end of the last delivered day)",
    )


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flights: list[Flight] = Field(min_length=1, max_length=MAX_BATCH)


class Prediction(BaseModel):
    flight_id: str
    probability: float
    predicted_disrupted: bool
    threshold: float
    prediction_at: str
    model_version: int
    feature_view: str
    fingerprint: str
    store_version: int
    features: dict | None = None


class Predictions(BaseModel):
    predictions: list[Prediction]


class EventIn(BaseModel):
    """A flight event (departed, arrived, cancelled) or a weather observation, with its own id:
    sending it twice stores it once. Times carry a UTC offset; a time without one is UTC."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=200, examples=["departed:UA-1545-EWR-2013-01-01"])
    event_type: Literal["departed", "arrived", "cancelled", "observed"]
    event_at: dt.datetime = Field(description="when it happened (departure, arrival, cancellation, observation)")
    origin: str = Field(pattern=r"^[A-Z]{3}$", examples=["EWR"])
    carrier: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2}$")
    flight_number: int | None = Field(default=None, ge=1, le=9999)
    dest: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    tailnum: str | None = Field(default=None, max_length=10)
    scheduled_dep_at: dt.datetime | None = None
    dep_delay_minutes: float | None = None
    arr_delay_minutes: float | None = None
    temp_f: float | None = None
    dewpoint_f: float | None = None
    humidity_pct: float | None = None
    wind_speed_mph: float | None = None
    wind_gust_mph: float | None = None
    precip_inches: float | None = None
    pressure_mb: float | None = None
    visibility_miles: float | None = None


class Events(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class Pushed(BaseModel):
    accepted: int
    duplicates: int


def _utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _request(flight: Flight) -> FlightRequest:
    return FlightRequest(
        carrier=flight.carrier,
        flight_number=flight.flight_number,
        origin=flight.origin,
        dest=flight.dest,
        tailnum=flight.tailnum,
        scheduled_dep_at=_utc(flight.scheduled_dep_at),
        prediction_at=_utc(flight.request_at) if flight.request_at is not None else None,
    )


def create_app(server: Server, events: Path | None = None) -> FastAPI:
    """The service; with `events` (the event log), also the push endpoint POST /events."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        server.start()
        yield
        server.stop()

    app = FastAPI(
        title="fti-flights online predictions",
        description="Disruption risk of a New York flight, from the online store and the champion model.",
        lifespan=lifespan,
    )

    @app.exception_handler(NotServable)
    @app.exception_handler(StoreMissing)
    async def unavailable(request, problem: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(problem)})

    @app.post("/predict", response_model=Prediction, response_model_exclude_none=True)
    async def predict(flight: Flight, include_features: bool = Query(False)):
        """The disruption probability of one flight."""
        return server.predict([_request(flight)], include_features)[0]

    @app.post("/predict/batch", response_model=Predictions, response_model_exclude_none=True)
    async def predict_batch(batch: Batch, include_features: bool = Query(False)):
        """Up to 1,000 flights, all answered from one state of the store by one model version."""
        return {"predictions": server.predict([_request(f) for f in batch.flights], include_features)}

    if events is not None:

        @app.post("/events", response_model=Pushed)
        def push(batch: Events):
            """Events from outside into the event log, all or none (422 naming a bad one); the
            streaming pipeline turns them into online features within the second."""
            try:
                accepted, duplicates = event_log.push(
                    events, [e.model_dump(exclude_none=True) for e in batch.events]
                )
            except event_log.BadEvent as bad:
                return JSONResponse(status_code=422, content={"detail": str(bad)})
            return {"accepted": accepted, "duplicates": duplicates}

    @app.get("/health")
    async def health():
        """Whether the served model can answer from the store as it is now (503 with the reason if not)."""
        status = server.health()
        return JSONResponse(status_code=200 if status["status"] == "ok" else 503, content=status)

    @app.get("/model")
    async def model():
        """The model version being served, its feature view and lineage."""
        return server.model_info()

    return app
