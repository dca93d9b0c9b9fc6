"""The dbt project on Spark builds the same feature tables as on DuckDB, row for row."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from fti_assets.feature_views.declared import VIEWS
from fti_assets.feature_views.view import point_in_time_sql
from tests.training_pipeline.test_point_in_time import TINY, US, P

# Each feature table's row key.
FEATURE_TABLES = {
    "flight_spine_v1": ["flight_id"],
    "fg_route_history_v1": ["origin", "dest", "as_of_date"],
    "fg_route_history_v2": ["origin", "dest", "as_of_date"],
    "fg_carrier_origin_history_v1": ["carrier", "origin", "as_of_date"],
    "fg_origin_weather_v1": ["origin", "event_at"],
    "fg_aircraft_v1": ["tailnum", "event_at"],
}
# Both engines compute these doubles in IEEE arithmetic, but sums over windows may add in
# another order: equal to 12 significant digits. Measured: every value is bit-equal today.
RELATIVE_TOLERANCE = 1e-12


def spark_frame(spark, sql: str) -> pd.DataFrame:
    """Rows of a Spark query, timestamps as naive UTC (the warehouse's convention)."""
    frame = spark.sql(sql)
    naive = [
        f"cast(`{f.name}` as timestamp_ntz) as `{f.name}`" if f.dataType.typeName() == "timestamp" else f"`{f.name}`"
        for f in frame.schema.fields
    ]
    return frame.selectExpr(*naive).toArrow().to_pandas()


def duckdb_frame(connection: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """Rows of a DuckDB query through Arrow, as spark_frame's: dates stay dates."""
    return connection.sql(sql).arrow().read_all().to_pandas()


def assert_same_rows(duck: pd.DataFrame, spark: pd.DataFrame, keys: list[str]) -> None:
    """Same columns, same rows: doubles to RELATIVE_TOLERANCE, everything else exactly."""
    assert sorted(spark.columns) == sorted(duck.columns)
    assert len(duck) > 0 and len(spark) == len(duck)
    duck = duck.sort_values(keys).reset_index(drop=True)
    spark = spark[duck.columns].sort_values(keys).reset_index(drop=True)
    for column in duck.columns:
        left, right = duck[column], spark[column]
        if pd.api.types.is_float_dtype(left) or pd.api.types.is_float_dtype(right):
            same = np.isclose(left.astype("float64"), right.astype("float64"), rtol=RELATIVE_TOLERANCE, atol=0, equal_nan=True)
        else:
            same = (left.isna() & right.isna()) | (left.astype(object) == right.astype(object)).fillna(False)
        assert bool(np.all(same)), f"{column}: {left[~same].head(3).tolist()} (DuckDB) != {right[~same].head(3).tolist()} (Spark)"


def test_every_batch_feature_table_is_compared():
    """Every table of the batch views; the intraday (streaming) view is built on DuckDB only."""
    batch = [v for v in VIEWS.values() if v.system == "batch"]
    assert set(FEATURE_TABLES) == {r for v in batch for r in (v.spine_relation, *(g.relation for g in v.groups))}


@pytest.mark.parametrize("table", FEATURE_TABLES)
def test_feature_tables_equal_duckdb_row_for_row(spark_replayed, table):
    _, env, spark, _ = spark_replayed
    with duckdb.connect(env["FTI_WAREHOUSE"], read_only=True) as connection:
        duck = duckdb_frame(connection, f"select * from features.{table}")
    assert_same_rows(duck, spark_frame(spark, f"select * from features.{table}"), FEATURE_TABLES[table])


def test_spark_window_crosses_dst_and_replays_incrementally(spark_replayed):
    _, _, spark, _ = spark_replayed
    days = spark.sql("select scheduled_dep_date, min(prediction_at) from features.flight_spine_v1 group by 1 order by 1").collect()
    assert [str(d) for d, _ in days] == ["2013-03-08", "2013-03-09", "2013-03-10", "2013-03-11", "2013-03-12"]
    # Local midnight is 05:00 UTC before the switch and 04:00 UTC after it.
    assert [at.hour for _, at in spark_frame(spark, "select min(prediction_at) as p from features.flight_spine_v1 group by scheduled_dep_date order by 1").itertuples()] == [5, 5, 5, 4, 4]




@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([(P, 1.0), (P + US, 2.0)], 1.0),  # an event at exactly the prediction time is known
        ([(P + US, 2.0)], None),  # one a microsecond later is not
        ([(P - dt.timedelta(hours=3), 3.0)], None),  # exactly TTL old: expired
        ([(P - dt.timedelta(hours=3) + US, 4.0), (P - dt.timedelta(hours=1), None)], None),  # the latest row's NULL, not an older value
        ([], None),  # no history at all
    ],
)
def test_spark_point_in_time_boundaries_as_duckdb(spark_replayed, tmp_path, events, expected):
    """The edge cases of tests/training_pipeline/test_point_in_time.py, on both dialects."""
    _, _, spark, _ = spark_replayed
    spine = (
        f"select 'f1' as flight_id, 'JFK' as origin, timestamp '{P}' as prediction_at, true as is_disrupted "
        f"union all select 'f2', cast(null as string), timestamp '{P}', false"
    )
    spark.sql("create schema if not exists features")
    spark.sql("drop table if exists features.weather_v1")
    spark.sql("create table features.weather_v1 (origin string, event_at timestamp, temp_f double) using parquet")
    with duckdb.connect(str(tmp_path / "b.duckdb")) as connection:
        connection.sql("create schema features")
        connection.sql("create table features.weather_v1 (origin varchar, event_at timestamp, temp_f double)")
        for at, value in events:
            connection.execute("insert into features.weather_v1 values ('JFK', ?, ?)", [at, value]).fetchall()
            spark.sql(f"insert into features.weather_v1 values ('JFK', timestamp '{at}', {'null' if value is None else value})")
        duck = connection.sql(f"select flight_id, temp_f from ({point_in_time_sql(TINY, spine)}) order by 1").fetchall()
    query = f"select flight_id, temp_f from ({point_in_time_sql(TINY, spine, dialect='spark')}) order by 1"
    on_spark = [tuple(r) for r in spark.sql(query).collect()]
    assert duck == [("f1", expected), ("f2", None)]  # a NULL key matches nothing, and its row stays
    assert on_spark == duck


def test_unknown_dialect_is_named():
    with pytest.raises(ValueError, match="unknown SQL dialect 'trino'"):
        point_in_time_sql(TINY, "select 1", dialect="trino")
