"""The service over HTTP: following the alias, refusing mismatched features, bad requests,
materialization while requests stream, and served predictions landing in DuckDB."""

import dataclasses
import time

import dagster as dg
import duckdb

from fti_assets import settings
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.runner import failure_messages, run_window
from fti_assets.stateful import model_store, registry
from fti_assets.training_pipeline import model as training_model
from fti_assets.training_pipeline import rollout
from tests.conftest import DAY
from tests.online_pipeline.conftest import CLOCK, as_json, day_flights, manifest, materialize_at, serving, streaming


def register_another_model(warehouse) -> int:
    """Version 2: the champion's snapshot and view, fitted with other hyperparameters."""
    with duckdb.connect(str(warehouse)) as connection:
        champion = registry.resolve(connection, "champion")
        table = connection.execute("select table_name from training.snapshots where snapshot_id = ?", [champion.snapshot_id]).fetchall()[0][0]
        frame = connection.sql(f"select * from {table} order by flight_id, scheduled_dep_date").df()
        pipeline = training_model.fit_pipeline(frame, VIEW, training_model.TrainingConfig(max_iter=10, min_category_frequency=5))
        sha, name = model_store.save(pipeline, settings.model_store_path())
        fields = dataclasses.asdict(champion) | {"artifact_sha256": sha, "artifact_path": name, "hyperparameters": {"max_iter": 10}}
        return registry.register_version(connection, **{k: v for k, v in fields.items() if k not in ("version", "created_at")})


def promote(warehouse, version: int) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        rollout.promote(connection, manifest(), version, "test")


def test_promote_and_roll_back_reach_the_service_while_requests_stream(online):
    second = register_another_model(online)
    body = as_json(day_flights(online)[0])

    def request():
        response = client.post("/predict", json=body)
        return time.monotonic(), response.status_code, response.json().get("model_version")

    followed = []
    with serving() as (client, _), streaming(request) as answers:
        for version in (second, 1, second, 1):
            promote(online, version)
            moved = time.monotonic()
            while not (answers and answers[-1][0] > moved and answers[-1][2] == version):
                assert time.monotonic() - moved < 5, f"the service still serves {answers[-1][2]} 5 s after promoting {version}"
                time.sleep(0.01)
            followed.append(version)
    assert followed == [second, 1, second, 1]
    assert {status for _, status, _ in answers} == {200}
    assert {version for _, _, version in answers} == {1, second}


def test_a_fingerprint_mismatch_is_refused_with_503_naming_what_differs(online):
    changed = manifest()
    node = next(n for n in changed["nodes"].values() if n.get("alias") == "fg_route_history_v1")
    node["raw_code"] += "\n-- an edit after the model was trained"
    materialize_at(online, settings.online_store_path(), CLOCK, manifest_=changed)
    with serving() as (client, _):
        predicted = client.post("/predict", json=as_json(day_flights(online)[0]))
        health = client.get("/health")
    assert predicted.status_code == 503 and health.status_code == 503
    detail = predicted.json()["detail"]
    assert "model version 1" in detail and "changed since: fg_route_history_v1.sql" in detail
    assert health.json()["problem"] == detail


def test_a_store_without_the_models_view_is_refused_with_503(online):
    from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V2

    materialize_at(online, settings.online_store_path(), CLOCK, views=(FLIGHT_DISRUPTION_V2,))
    with serving() as (client, _):
        response = client.post("/predict", json=as_json(day_flights(online)[0]))
    assert response.status_code == 503
    assert "reads feature view flight_disruption_v1" in response.json()["detail"]
    assert "serves flight_disruption_v2" in response.json()["detail"]


MALFORMED = [
    ({"carrier": None}, "carrier"),
    ({"carrier": "united"}, "carrier"),
    ({"flight_number": "abc"}, "flight_number"),
    ({"scheduled_dep_at": "tomorrow"}, "scheduled_dep_at"),
    ({"request_at": "2013-13-01T00:00:00"}, "request_at"),
    ({"origin": "JF"}, "origin"),
    ({"seats": 3}, "seats"),
]


def test_a_malformed_request_gets_422_naming_the_field(online):
    good = as_json(day_flights(online)[0])
    named = []
    with serving() as (client, _):
        for change, field in MALFORMED:
            body = {k: v for k, v in (good | change).items() if v is not None}
            response = client.post("/predict", json=body)
            assert response.status_code == 422, (change, response.text)
            named.append(field in {str(part) for error in response.json()["detail"] for part in error["loc"]})
        too_many = client.post("/predict/batch", json={"flights": [good] * 1001})
        assert client.post("/predict", json=good).status_code == 200
    assert named == [True] * len(MALFORMED)
    assert too_many.status_code == 422 and "flights" in too_many.text


def test_unknown_keys_get_the_nulls_of_the_offline_join_not_an_error(online):
    flight = day_flights(online)[0]
    unknown = dataclasses.replace(flight, tailnum="N00000", dest="ZZZ", carrier="ZZ")
    with serving() as (client, _):
        response = client.post("/predict", json=as_json(unknown), params={"include_features": True})
        health, served = client.get("/health"), client.get("/model")
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    assert all(features[c] is None for c in (*VIEW.groups[0].columns, *VIEW.groups[1].columns, *VIEW.groups[3].columns))
    assert features["distance_miles"] is None and features["temp_f"] is not None
    assert 0 <= response.json()["probability"] <= 1
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert served.json()["version"] == 1 and served.json()["fast_path"] is True


def test_every_answer_comes_from_the_old_or_the_new_state_while_materializing(online):
    """Two states (clock at the end of day 3, then day 4) alternate while requests stream: each
    answer names its state, and equals what that state gave when it was alone."""
    flights = day_flights(online)[:50]
    body = {"flights": [as_json(f) for f in flights]}
    earlier = CLOCK.replace(day=CLOCK.day - 1)
    with serving() as (client, _):
        expected, state_clock = {}, {}
        for clock in (earlier, CLOCK):
            state_clock[materialize_at(online, settings.online_store_path(), clock).summary.version] = clock
            expected[clock] = [a["probability"] for a in client.post("/predict/batch", json=body).json()["predictions"]]
        assert expected[earlier] != expected[CLOCK]

        def request():
            response = client.post("/predict/batch", json=body)
            return response.status_code, response.json().get("predictions", [])

        with streaming(request) as answers:
            for i in range(8):
                clock = (earlier, CLOCK)[i % 2]
                state_clock[materialize_at(online, settings.online_store_path(), clock).summary.version] = clock
    assert answers and {status for status, _ in answers} == {200}
    states = set()
    for _, predictions in answers:
        (store_version,) = {p["store_version"] for p in predictions}
        assert [p["probability"] for p in predictions] == expected[state_clock[store_version]]
        states.add(store_version)
    assert len(states) > 1


def test_served_predictions_land_in_duckdb_and_monitoring(online):
    flights = day_flights(online)[:20]
    with serving() as (client, _):
        for flight in flights:
            assert client.post("/predict", json=as_json(flight)).status_code == 200
        client.post("/predict/batch", json={"flights": [as_json(f) for f in flights]})
    result = run_window("inference_job", DAY, DAY, dg.DagsterInstance.ephemeral())
    assert result.success, failure_messages(result)
    checks = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks["check_online_rows_match_features"] and checks["check_online_features_fresh"]
    with duckdb.connect(str(online), read_only=True) as connection:
        logged = connection.sql(
            "select count(*), count(distinct flight_id), min(model_version), max(latency_ms) > 0, "
            "min(json_array_length(json_keys(features))) from inference.online_predictions"
        ).fetchall()
        daily = connection.sql(
            "select served_predictions, compared_with_batch, max_batch_difference from monitoring.mon_online_daily_performance"
        ).fetchall()
    assert logged == [(40, 20, 1, True, len(VIEW.features))]
    assert len(daily) == 1 and daily[0][0] == 40 and daily[0][2] <= 1e-12
