"""Pushing events: over HTTP and from Python, checked all or none, never waiting for the warehouse;
what is pushed while a batch build runs lands in the next build's features."""

import datetime as dt
import threading

import dagster as dg
import duckdb
import pytest

from fti_assets import settings
from fti_assets.runner import failure_messages, run_window
from fti_assets.stateful import event_log
from tests.conftest import DAY
from tests.online_pipeline.conftest import serving


def flight_events(n: int) -> list[dict]:
    """A plane flying n made-up legs out of EWR on DAY, each departing 7 minutes late and arriving."""
    legs = []
    for leg in range(n):
        scheduled = dt.datetime(2013, 1, 5, 14) + dt.timedelta(minutes=30 * leg)
        flight = {"carrier": "UA", "flight_number": 9000 + leg, "origin": "EWR", "dest": "BOS", "tailnum": "NPUSH1",
                  "scheduled_dep_at": scheduled.isoformat() + "Z"}
        legs.append({**flight, "event_id": f"push-dep-{leg}", "event_type": "departed",
                     "event_at": (scheduled + dt.timedelta(minutes=7)).isoformat() + "Z", "dep_delay_minutes": 7})
        legs.append({**flight, "event_id": f"push-arr-{leg}", "event_type": "arrived",
                     "event_at": (scheduled + dt.timedelta(minutes=70)).isoformat() + "Z",
                     "dep_delay_minutes": 7, "arr_delay_minutes": 3})
    return legs


@pytest.fixture
def instance():
    return dg.DagsterInstance.ephemeral()


def test_a_push_while_a_batch_build_runs_loses_nothing(online, instance):
    pushed = flight_events(20)
    build = {}
    running = threading.Thread(
        target=lambda: build.update(result=run_window("feature_job", DAY, DAY, instance)), daemon=True
    )
    with serving() as (client, _):
        running.start()
        answers = [client.post("/events", json={"events": pushed[i : i + 4]}) for i in range(0, len(pushed), 4)]
        during = running.is_alive()
        again = client.post("/events", json={"events": pushed})
    running.join()
    assert during, "the pushes should have been answered while the build was still running"
    assert [a.status_code for a in answers] == [200] * 10
    assert sum(a.json()["accepted"] for a in answers) == len(pushed)
    assert again.json() == {"accepted": 0, "duplicates": len(pushed)}
    assert build["result"].success, failure_messages(build["result"])
    # The next batch build lands every pushed event and builds features from it.
    after = run_window("feature_job", DAY, DAY, instance)
    assert after.success, failure_messages(after)
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as connection:
        landed = connection.sql("select count(*) from raw.stream_events where event_id like 'push-%'").fetchall()[0][0]
        legs = connection.sql(
            "select max(plane_legs_departed_today) from features.fg_plane_today_v1 where tailnum = 'NPUSH1'"
        ).fetchall()[0][0]
    assert landed == len(pushed)
    assert legs == 20


def test_a_bad_event_is_refused_by_name_and_nothing_is_stored(online):
    good, bad = flight_events(1)
    bad = {**bad, "arr_delay_minutes": None}
    with serving() as (client, _):
        refused = client.post("/events", json={"events": [good, {k: v for k, v in bad.items() if v is not None}]})
        shape = client.post("/events", json={"events": [{**good, "event_type": "landed"}]})
    assert refused.status_code == 422
    assert "push-arr-0" in refused.json()["detail"] and "arr_delay_minutes" in refused.json()["detail"]
    assert shape.status_code == 422 and "event_type" in str(shape.json()["detail"])
    log = event_log.connect(settings.event_log_path())
    assert event_log.last_seq(log) == 0


def test_the_python_push_takes_the_same_events(tmp_path):
    events = [
        {**e, "event_at": dt.datetime.fromisoformat(e["event_at"]),
         "scheduled_dep_at": dt.datetime.fromisoformat(e["scheduled_dep_at"])}
        for e in flight_events(2)
    ]
    assert event_log.push(tmp_path / "events.sqlite", events) == (4, 0)
    assert event_log.push(tmp_path / "events.sqlite", events[:1]) == (0, 1)
    with pytest.raises(event_log.BadEvent, match="pressure_mb = 2000"):
        event_log.push(tmp_path / "events.sqlite", [{**events[0], "event_id": "x", "pressure_mb": 2000}])
    late = events[1]["scheduled_dep_at"] + dt.timedelta(days=4)
    with pytest.raises(event_log.BadEvent, match="push-arr-0.*not between the day before and three days after"):
        event_log.push(tmp_path / "events.sqlite", [{**events[1], "event_at": late}])
    assert event_log.push(tmp_path / "events.sqlite", [{**events[1], "event_id": "y", "event_at": late - dt.timedelta(days=1)}]) == (1, 0)
