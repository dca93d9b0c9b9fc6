"""`fti serve`: the HTTP face of the online service (FastAPI on uvicorn).

FastAPI because its typed request models give what the service promises for free: a 422 that
names the malformed field, and OpenAPI docs at /docs; it is Starlette underneath, run by
uvicorn (with uvloop and httptools), so the framework costs a few hundred microseconds.
"""

import datetime as dt
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from fti_assets.feature_views.online import FlightRequest
from fti_assets.online_pipeline.serving import MAX_BATCH, NotServable, Server
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


def create_app(server: Server) -> FastAPI:
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
