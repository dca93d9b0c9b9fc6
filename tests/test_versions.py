"""Versions that link features to models: feature versions side by side, fingerprints that
notice a changed model or macro, inference that refuses mismatched features, and rollback that
brings back the old model with its own features and its own predictions, bit for bit.
"""

import copy
import itertools
import json
import re

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import PARTITION_NAME_TAG

from fti_assets import manifest as dbt_manifest
from fti_assets import settings
from fti_assets.cli import main as fti
from fti_assets.dbt.code_versions import node_code_version
from fti_assets.definitions import build
from fti_assets.feature_views import view as view_module
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V2
from fti_assets.feature_views.view import changed_parts, fingerprint, fingerprint_parts
from fti_assets.inference_pipeline import assets as inference_assets
from fti_assets.runner import failure_messages, run_once
from fti_assets.training_pipeline import rollout
from tests.conftest import DAY, SMALL_MODEL

TRAINING_RUN_V2 = {"ops": {
    "training_snapshot": {"config": {"cutoff": DAY, "feature_view": "flight_disruption_v2"}},
    "flight_disruption_model": {"config": SMALL_MODEL},
}}
MACRO = "macro.fti.trailing_outcome_windows"


def score_day(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """batch_predictions for DAY alone: the monitoring models are not what these tests guard."""
    return build().get_job_def("inference_job").execute_in_process(
        instance=instance, tags={PARTITION_NAME_TAG: DAY}, raise_on_error=False,
        asset_selection=[dg.AssetKey(["inference", "batch_predictions"])],
    )


def query(warehouse, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def model_predictions(warehouse, version: int) -> list[tuple]:
    """Every column a model decides, without when and by which run it was written."""
    return query(warehouse, "select * exclude (scored_at, dagster_run_id) from inference.predictions "
                            "where model_version = ? order by flight_id", [version])


@pytest.fixture(scope="module")
def manifest() -> dict:
    return copy.deepcopy(dbt_manifest.load())


def edited(manifest: dict, *, model: str | None = None, macro: str | None = None) -> dict:
    """A copy of the manifest with one model's SQL or one macro's body changed."""
    changed = copy.deepcopy(manifest)
    if model:
        changed["nodes"][model]["raw_code"] += "\n-- edited"
    if macro:
        changed["macros"][macro]["macro_sql"] = changed["macros"][macro]["macro_sql"].replace("rows between", "rows  between")
    return changed


def test_two_route_history_versions_live_side_by_side(built):
    root, _ = built
    warehouse = root / "warehouse.duckdb"
    columns = {
        table: dict(query(warehouse, "select column_name, data_type from information_schema.columns "
                                     "where table_schema = 'features' and table_name = ?", [table]))
        for table in ("fg_route_history_v1", "fg_route_history_v2")
    }
    v1, v2 = columns["fg_route_history_v1"], columns["fg_route_history_v2"]
    assert v1 and v1.items() <= v2.items()
    assert set(v2) - set(v1) == {
        "route_flights_3d", "route_disruption_rate_3d", "route_mean_arr_delay_minutes_3d",
        "route_mean_dep_delay_minutes_3d", "route_smoothed_disruption_rate_3d",
        "route_smoothed_disruption_rate_7d", "route_smoothed_disruption_rate_28d",
    }
    # The same rows and shared values; smoothing pulls every rate towards the day's network rate.
    shared = ", ".join(v1)
    assert query(warehouse, f"select {shared} from features.fg_route_history_v1 except select {shared} from features.fg_route_history_v2") == []
    farther = query(warehouse, """
        with network as (
            select as_of_date, sum(route_disruption_rate_28d * route_flights_28d) / sum(route_flights_28d) as rate
            from features.fg_route_history_v2 group by as_of_date
        )
        select count(*) from features.fg_route_history_v2 join network using (as_of_date)
        where abs(route_smoothed_disruption_rate_28d - rate) > abs(route_disruption_rate_28d - rate) + 1e-12""")
    assert farther == [(0,)]


def test_editing_a_feature_model_or_its_macro_changes_the_fingerprint(manifest):
    views = (FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V2)
    before = [fingerprint(v, manifest) for v in views]
    assert before[0] != before[1]

    model_edit = edited(manifest, model="model.fti.fg_route_history.v2")
    assert fingerprint(FLIGHT_DISRUPTION_V1, model_edit) == before[0], "v1 does not read route history v2"
    assert fingerprint(FLIGHT_DISRUPTION_V2, model_edit) != before[1]

    macro_edit = edited(manifest, macro=MACRO)
    assert all(fingerprint(v, macro_edit) != b for v, b in zip(views, before, strict=True))
    node = manifest["nodes"]["model.fti.fg_route_history.v1"]
    assert node_code_version(macro_edit, node) != node_code_version(manifest, node), "the UI would not show it stale"

    unrelated = edited(manifest, model="model.fti.mon_calibration")
    assert [fingerprint(v, unrelated) for v in views] == before


def test_inference_refuses_a_model_whose_features_changed(scored_copy, manifest, monkeypatch):
    before = query(scored_copy, "select * from inference.predictions order by all")
    monkeypatch.setattr(dbt_manifest, "load", lambda: edited(manifest, macro=MACRO))

    result = score_day(dg.DagsterInstance.ephemeral())

    assert not result.success
    message = "\n".join(failure_messages(result))
    assert "model version 1" in message and "fg_route_history_v1.macros" in message, message
    check = [e for e in result.get_asset_check_evaluations() if e.check_name == inference_assets.FEATURES_CHECK]
    assert [e.passed for e in check] == [False]
    assert query(scored_copy, "select * from inference.predictions order by all") == before
    with duckdb.connect(str(scored_copy)) as connection:
        with pytest.raises(rollout.PromotionRefused, match="no registered model version matches the live features"):
            rollout.promote(connection, edited(manifest, macro=MACRO), 1)


def test_rollback_rescoring_reproduces_earlier_predictions_bit_for_bit(scored_copy):
    model_a = model_predictions(scored_copy, 1)
    instance = dg.DagsterInstance.ephemeral()

    trained = run_once("training_job", instance, TRAINING_RUN_V2)  # the gate may or may not promote it
    assert query(scored_copy, "select version, feature_view_version from registry.model_versions order by 1") == [(1, 1), (2, 2)], failure_messages(trained)
    # Its drift baseline was stored when it was registered, before it scored anything.
    assert query(scored_copy, "select distinct feature from inference.feature_baselines where model_version = 2 "
                              "order by 1") == sorted((c,) for c in FLIGHT_DISRUPTION_V2.numeric_features)
    fti(["promote", "--version", "2", "--reason", "upgrade to route history v2"])
    upgraded = score_day(instance)
    assert upgraded.success, failure_messages(upgraded)
    assert query(scored_copy, "select distinct feature_view_version from inference.predictions where model_version = 2") == [(2,)]

    fti(["promote", "--version", "1", "--reason", "rollback"])
    rolled_back = score_day(instance)

    assert rolled_back.success, failure_messages(rolled_back)
    assert len(model_a) > 0 and model_predictions(scored_copy, 1) == model_a
    history = query(scored_copy, "select version, valid_from, valid_to, reason from registry.alias_history "
                                 "where alias = 'champion' order by valid_from")
    assert [h[0] for h in history][-2:] == [2, 1] and history[-1][3] == "rollback"
    assert all(h[2] == nxt[1] for h, nxt in itertools.pairwise(history)) and history[-1][2] is None


def test_promoting_an_unknown_version_fails_clearly(scored_copy):
    with pytest.raises(SystemExit, match=r"no model version 99 in registry.model_versions; registered: \[1\]"):
        fti(["promote", "--version", "99"])
    result = run_once("promote_job", dg.DagsterInstance.ephemeral(),
                      {"ops": {"promote_model_version": {"config": {"version": 99}}}})
    assert not result.success and "no model version 99" in failure_messages(result)[0]
    assert query(scored_copy, "select version from registry.alias_history where alias = 'champion' and valid_to is null") == [(1,)]


def lineage_sql() -> str:
    """The query of the README's section on versions: tested as written there."""
    readme = (settings.REPO_ROOT / "README.md").read_text()
    section = readme.split("## Versions, upgrade and rollback", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_lineage_query_walks_each_prediction_to_its_snapshot(scored):
    folder, _ = scored
    rows = query(folder / "warehouse.duckdb", lineage_sql())
    predictions = query(folder / "warehouse.duckdb", "select count(*) from inference.predictions")[0][0]
    assert len(rows) == predictions > 0
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        frame = connection.sql(lineage_sql()).df()
    assert frame[["model_version", "feature_view", "fingerprint", "snapshot_table", "snapshot_data_version"]].notna().all().all()
    assert frame["feature_data_versions"].map(lambda v: "features/fg_route_history_v1" in json.loads(v)).all()


@pytest.mark.parametrize(
    ("edit", "part"),
    [
        ({"model": "model.fti.stg_flights"}, "stg_flights.sql"),  # early arrivals counted as 0 minutes late, say
        ({"model": "model.fti.int_flights_outcomes_known"}, "int_flights_outcomes_known.sql"),  # the 15-minute threshold
        ({"model": "model.fti.int_routes_aggregated_to_day"}, "int_routes_aggregated_to_day.sql"),
        ({"macro": "macro.fti.physical_reading"}, "stg_weather.macros"),
    ],
)
def test_an_edit_upstream_of_the_feature_groups_changes_the_fingerprint_and_is_named(manifest, edit, part):
    changed = edited(manifest, **edit)
    if "macro" in edit:  # physical_reading has no "rows between": edit its body directly
        changed["macros"][edit["macro"]]["macro_sql"] += "\n{# edited #}"
    assert fingerprint(FLIGHT_DISRUPTION_V1, changed) != fingerprint(FLIGHT_DISRUPTION_V1, manifest)
    assert part in changed_parts(fingerprint_parts(FLIGHT_DISRUPTION_V1, manifest), fingerprint_parts(FLIGHT_DISRUPTION_V1, changed))


def test_a_seed_or_the_point_in_time_python_is_part_of_the_fingerprint(manifest, monkeypatch):
    seed = copy.deepcopy(manifest)
    seed["nodes"]["seed.fti.airports_supplement"]["checksum"]["checksum"] = "0" * 64
    assert "airports_supplement.sql" in changed_parts(
        fingerprint_parts(FLIGHT_DISRUPTION_V1, manifest), fingerprint_parts(FLIGHT_DISRUPTION_V1, seed))
    before = fingerprint(FLIGHT_DISRUPTION_V1, manifest)
    monkeypatch.setattr(view_module, "_python_sources", lambda: "a different join")
    assert fingerprint(FLIGHT_DISRUPTION_V1, manifest) != before


def test_scoring_is_refused_before_any_feature_is_rebuilt(scored_copy, manifest, monkeypatch):
    features = query(scored_copy, "select * from features.fg_route_history_v1 order by all")
    upstream_edit = edited(manifest, model="model.fti.stg_flights")
    job = build().get_job_def("daily_replay_job")
    monkeypatch.setattr(dbt_manifest, "load", lambda: upstream_edit)

    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=DAY, raise_on_error=False)

    assert not result.success
    message = "\n".join(failure_messages(result))
    assert "not rebuilding the features of a run that scores: model version 1" in message and "stg_flights.sql" in message, message
    assert not [e for e in result.get_asset_materialization_events() if e.asset_key.path[0] in {"features", "staging", "intermediate"}]
    assert query(scored_copy, "select * from features.fg_route_history_v1 order by all") == features


def test_every_asset_has_a_code_version_and_scoring_depends_on_each_feature_group():
    graph = build().resolve_asset_graph()
    assert [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and graph.get(k).code_version is None] == []
    parents = graph.get(dg.AssetKey(["inference", "batch_predictions"])).parent_keys
    for view in (FLIGHT_DISRUPTION_V1, FLIGHT_DISRUPTION_V2):
        assert {dg.AssetKey(["features", r]) for r in view.relations} <= parents
