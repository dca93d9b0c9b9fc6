"""`fti stream`'s day live, on the few-day warehouse: an intraday model trained and promoted under
its own alias, then day 5 replayed with every flight requested at its times before departure."""

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from fti_assets import manifest
from fti_assets.feature_views.online import replay_clock
from fti_assets.live_day import run_day
from fti_assets.runner import failure_messages, run_once
from fti_assets.stateful import warehouse
from fti_assets.training_pipeline import rollout
from tests.conftest import LAST, SMALL_MODEL

INTRADAY_RUN = {
    "ops": {
        "training_snapshot": {"config": {"cutoff": str(LAST), "feature_view": "flight_disruption_intraday_v2"}},
        "flight_disruption_model": {"config": SMALL_MODEL},
    }
}


@pytest.fixture
def intraday(scored_copy):
    """Version 2, the intraday model, trained and gated; on five days the gate may reject it (an
    origin far below the overall ROC AUC), so it is then promoted by hand, as `fti promote` does."""
    trained = run_once("training_job", dg.DagsterInstance.ephemeral(), INTRADAY_RUN)
    assert trained.success, failure_messages(trained)
    with warehouse.connect(scored_copy) as connection:
        decided = connection.sql("select version, outcome from registry.gate_decisions").fetchall()
        if (2, "rejected") in decided:
            done = rollout.promote(connection, manifest.load(), 2, "five days are too few for the gate")
            assert (done.alias, done.previous, done.version) == ("intraday_champion", None, 2)
    return scored_copy


def test_the_intraday_model_has_its_own_aliases_beside_the_batch_ones(intraday):
    with duckdb.connect(str(intraday), read_only=True) as connection:
        current = dict(connection.sql(
            "select alias, version from registry.alias_history where valid_to is null"
        ).fetchall())
        views = dict(connection.sql("select version, feature_view from registry.model_versions").fetchall())
        decided = connection.sql("select version from registry.gate_decisions order by version").fetchall()
    assert current["champion"] == current["challenger"] == 1 and views[1] == "flight_disruption"
    assert current["intraday_champion"] == current["intraday_challenger"] == 2
    assert views[2] == "flight_disruption_intraday" and decided == [(1,), (2,)]


def test_a_day_live_answers_every_flight_at_its_times_from_streamed_features(intraday, tmp_path):
    report = run_day(LAST, 5_000, tmp_path / "day", prediction_log=tmp_path / "log")
    start = replay_clock(LAST - dt.timedelta(days=1))
    with duckdb.connect(str(intraday), read_only=True) as connection:
        due = connection.execute(
            "select count(*) from staging.stg_flights, (values (360), (120), (30)) as h(m) "
            "where scheduled_dep_date = ? and scheduled_dep_at - to_minutes(h.m) >= ?", [LAST, start]
        ).fetchall()[0][0]
    assert report.model_version == 2 and len(report.answers) == due > 2000
    assert all(0 <= a.probability <= 1 for a in report.answers)
    assert len(report.freshness_ms) == report.events > 1000
    lines = "\n".join(report.lines())
    for minutes in (360, 120, 30):
        assert f"{minutes:>4} min before departure: ROC AUC online" in lines
    # The answers read streamed features: at 30 minutes before departure, most flights' origin
    # had departures in the hour before, known only from today's events.
    logged = [json.loads(line) for path in (tmp_path / "log").glob("*.jsonl") for line in path.read_text().splitlines()]
    late = [r for r in logged if r["features"]["minutes_to_departure"] == 30]
    assert len(late) == len([a for a in report.answers if a.minutes_before == 30])
    assert sum(r["features"]["origin_departures_1h"] is not None for r in late) > 0.8 * len(late)
    # And the plane's streamed arrival time reaches the on-demand turnaround: most requests whose
    # plane had landed somewhere that day, by the request time, have one.
    with duckdb.connect(str(intraday), read_only=True) as connection:
        arrivals = connection.execute(
            "select tailnum, min(event_at) from staging.stg_events "
            "where event_type = 'arrived' and partition_date = ? group by tailnum", [LAST]
        ).fetchall()
    first_landed = {tail: at for tail, at in arrivals}
    landed = {
        (r["tailnum"], r["scheduled_dep_date"], r["prediction_at"]) for r in late
        if r["tailnum"] in first_landed and first_landed[r["tailnum"]] <= dt.datetime.fromisoformat(r["prediction_at"])
    }
    turnarounds = {
        (r["tailnum"], r["scheduled_dep_date"], r["prediction_at"]): r["features"]["plane_turnaround_minutes"]
        for r in late
    }
    found = [key for key, minutes in turnarounds.items() if minutes is not None]
    # None before its plane had landed (that would be the future), most after.
    assert set(found) <= landed and len(landed) > 50 and len(found) > 0.8 * len(landed)
    assert all(turnarounds[key] > 0 for key in found)
