"""Time the training snapshot for all of 2013 against one hand-written DuckDB ASOF query.

Runs on a copy of the warehouse (never the file the system uses):
    python benchmarks/training_snapshot.py [--warehouse data/warehouse.duckdb] [--cutoff 2013-12-31]
"""

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from fti_assets.settings import DBT_PROJECT_DIR, warehouse_path
from fti_assets.training_pipeline import snapshot
from fti_assets.feature_views.view import fingerprint
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW


def hand_written(cutoff: dt.date) -> str:
    """The same rows, written by hand: four ASOF joins and the TTLs inline."""
    boundary = snapshot.end_of_local_day_utc(cutoff)
    route, carrier, weather, plane = (group.columns for group in VIEW.groups)

    def fresh(alias, columns, ttl):
        return ", ".join(f"case when {alias}.event_at > s.prediction_at - interval {ttl} then {alias}.{c} end as {c}" for c in columns)

    return f"""
        create table hand_written as
        select s.flight_id, s.scheduled_dep_date, s.carrier, s.origin, s.dest, s.scheduled_dep_hour_local,
            s.day_of_week, s.month_of_year, s.distance_miles, s.prediction_at, s.is_disrupted,
            {fresh('r', route, "2 day")}, {fresh('c', carrier, "2 day")},
            {fresh('w', weather, "3 hour")}, {fresh('p', plane, "7 day")}
        from features.flight_spine_v1 s
        asof left join features.fg_route_history_v1 r on s.origin = r.origin and s.dest = r.dest and s.prediction_at >= r.event_at
        asof left join features.fg_carrier_origin_history_v1 c on s.carrier = c.carrier and s.origin = c.origin and s.prediction_at >= c.event_at
        asof left join features.fg_origin_weather_v1 w on s.origin = w.origin and s.prediction_at >= w.event_at
        asof left join features.fg_aircraft_v1 p on s.tailnum = p.tailnum and s.prediction_at >= p.event_at
        where s.scheduled_dep_date <= date '{cutoff}' and s.label_known_at <= timestamp '{boundary}'
        order by s.flight_id, s.scheduled_dep_date
    """


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=warehouse_path())
    parser.add_argument("--cutoff", type=dt.date.fromisoformat, default=dt.date(2013, 12, 31))
    args = parser.parse_args()
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "warehouse.duckdb"
        shutil.copy(args.warehouse, copy)
        with duckdb.connect(str(copy)) as connection:
            connection.sql("drop schema if exists training cascade")
            started = time.perf_counter()
            built = snapshot.build_snapshot(connection, VIEW, fingerprint(VIEW, manifest), args.cutoff)
            pipeline_seconds = time.perf_counter() - started

            started = time.perf_counter()
            connection.sql(hand_written(args.cutoff))
            hand_seconds = time.perf_counter() - started
            hand_rows = connection.sql("select count(*) from hand_written").fetchall()[0][0]
            differing = connection.sql(
                f"select count(*) from (select * exclude (prediction_at, is_disrupted) from {built.table_name} "
                "except all select * exclude (prediction_at, is_disrupted) from hand_written)"
            ).fetchall()[0][0]

    print(f"training snapshot ({built.rows} rows, cutoff {args.cutoff}): {pipeline_seconds:.2f} s")
    print(f"hand-written ASOF query ({hand_rows} rows): {hand_seconds:.2f} s")
    print(f"ratio snapshot / hand-written: {pipeline_seconds / hand_seconds:.2f}")
    assert built.rows == hand_rows, f"row counts differ: snapshot {built.rows}, hand-written {hand_rows}"
    assert differing == 0, f"{differing} snapshot rows differ from the hand-written query's"
    print("same rows and values: yes")


if __name__ == "__main__":
    main()
