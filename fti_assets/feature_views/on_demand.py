"""On-demand features: computed at prediction time from the request and from feature-group
columns as known then, defined once here.

The same function serves both paths: offline it is registered as a DuckDB function that the
point-in-time SQL calls after its joins (training snapshots, batch scoring), online the service
calls it on the request and the vector's group rows. Each takes and returns numpy arrays, so one
row and a million rows run the same code.
"""

import dataclasses
import inspect
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa


@dataclasses.dataclass(frozen=True)
class OnDemandFeature:
    """A feature computed by a vectorised function from request columns (spine columns offline)
    and from group columns the view declares as inputs (`FeatureGroupRef.inputs`)."""

    name: str
    inputs: tuple[str, ...]
    input_types: tuple[str, ...]
    function: Callable[..., np.ndarray]

    def declaration(self) -> dict:
        """What the view's fingerprint covers: the inputs and the function's source."""
        return {"name": self.name, "inputs": list(self.inputs), "source": inspect.getsource(self.function)}


def minutes_to_departure(scheduled_dep_at: np.ndarray, prediction_at: np.ndarray) -> np.ndarray:
    """Minutes from the prediction (the request) to the scheduled departure; negative once it is due."""
    return (scheduled_dep_at.astype("datetime64[us]") - prediction_at.astype("datetime64[us]")) / np.timedelta64(1, "m")


MINUTES_TO_DEPARTURE = OnDemandFeature(
    name="minutes_to_departure",
    inputs=("scheduled_dep_at", "prediction_at"),
    input_types=("TIMESTAMP", "TIMESTAMP"),
    function=minutes_to_departure,
)


def plane_turnaround_minutes(scheduled_dep_at: np.ndarray, latest_arrived_at: np.ndarray) -> np.ndarray:
    """Minutes from the plane's latest arrival today to this flight's scheduled departure: the
    buffer it has to come back and turn around (NaN before it has arrived anywhere today)."""
    return (scheduled_dep_at.astype("datetime64[us]") - latest_arrived_at.astype("datetime64[us]")) / np.timedelta64(
        1, "m"
    )


PLANE_TURNAROUND_MINUTES = OnDemandFeature(
    name="plane_turnaround_minutes",
    inputs=("scheduled_dep_at", "latest_arrived_at"),
    input_types=("TIMESTAMP", "TIMESTAMP"),
    function=plane_turnaround_minutes,
)


def register(connection: duckdb.DuckDBPyConnection, features: tuple[OnDemandFeature, ...]) -> None:
    """Make each feature callable from SQL on this connection, as `<name>(inputs...)`."""
    for feature in features:

        def call(*arrays: pa.Array, feature: OnDemandFeature = feature) -> pa.Array:
            values = feature.function(*(a.to_numpy(zero_copy_only=False) for a in arrays))
            return pa.array(values, type=pa.float64(), from_pandas=True)

        try:
            connection.remove_function(feature.name)
        except duckdb.InvalidInputException:
            pass
        connection.create_function(feature.name, call, list(feature.input_types), "DOUBLE", type="arrow")
