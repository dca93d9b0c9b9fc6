"""Snapshots, the time split, determinism of training, and the promotion gate."""

import dataclasses
import datetime as dt

import duckdb
import pytest

from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.training_pipeline import model, snapshot
from fti_assets.training_pipeline.promotion import GateConfig, promotion_decision
from tests.training_pipeline import synthetic

CUTOFF = synthetic.FIRST_DAY + dt.timedelta(days=34)
CONFIG = model.TrainingConfig(validation_days=7, test_days=7, max_iter=20, min_samples_leaf=10, min_category_frequency=5)


@pytest.fixture
def connection(tmp_path):
    path = tmp_path / "w.duckdb"
    synthetic.build(path, VIEW)
    with duckdb.connect(str(path)) as connection:
        yield connection


def test_snapshot_holds_labels_known_by_the_cutoff_and_is_reused(connection):
    built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
    again = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
    assert again == built
    assert built.table_name == f"training.snapshot_{built.snapshot_id}"
    boundary = snapshot.end_of_local_day_utc(CUTOFF)
    expected = connection.sql(
        f"select count(*) from features.{VIEW.spine_relation} "
        f"where scheduled_dep_date <= date '{CUTOFF}' and label_known_at <= timestamp '{boundary}' and tailnum is not null"
    ).fetchall()[0][0]
    late = connection.sql(
        f"select count(*) from features.{VIEW.spine_relation} where scheduled_dep_date <= date '{CUTOFF}'"
    ).fetchall()[0][0]
    assert built.rows == expected < late  # the cutoff day's late labels are left out
    assert connection.sql("select count(*) from training.snapshots").fetchall() == [(1,)]
    assert not connection.sql("select * from duckdb_tables() where table_name like 'building_%'").fetchall()


def test_snapshot_id_is_the_hash_of_its_rows(connection):
    first = snapshot.build_snapshot(connection, VIEW, "a", CUTOFF)
    # Equal rows, whatever built them: the same id (and the stored snapshot is reused).
    assert snapshot.build_snapshot(connection, VIEW, "b", CUTOFF).snapshot_id == first.snapshot_id
    assert snapshot.content_id(connection, first.table_name) == first.snapshot_id
    # One feature value of one row changed: another id.
    connection.sql(f"""update features.{VIEW.spine_relation} set distance_miles = distance_miles + 1
                       where flight_id = (select min(flight_id) from {first.table_name})""")
    changed = snapshot.build_snapshot(connection, VIEW, "a", CUTOFF)
    assert changed.snapshot_id != first.snapshot_id and changed.rows == first.rows
    # One more day of rows: another id.
    assert snapshot.build_snapshot(connection, VIEW, "a", CUTOFF + dt.timedelta(days=1)).snapshot_id not in {
        first.snapshot_id, changed.snapshot_id}


def test_writing_a_snapshot_never_replaces_one_with_other_content(connection):
    built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
    connection.sql(f"update {built.table_name} set {VIEW.label} = not {VIEW.label} where flight_id = (select min(flight_id) from {built.table_name})")
    altered = connection.sql(f"select * from {built.table_name} order by all").fetchall()

    with pytest.raises(snapshot.SnapshotChanged, match=f"training snapshot {built.snapshot_id} .* now hashes to"):
        snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)

    assert connection.sql(f"select * from {built.table_name} order by all").fetchall() == altered
    assert connection.sql("select count(*) from training.snapshots").fetchall() == [(1,)]


def test_time_split_is_consecutive_periods(connection):
    built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
    split = model.time_split(snapshot.read_snapshot(connection, built.table_name, VIEW), CONFIG)
    assert split.train["scheduled_dep_date"].max() < split.validation["scheduled_dep_date"].min()
    assert split.validation["scheduled_dep_date"].max() < split.test["scheduled_dep_date"].min()
    assert split.test["scheduled_dep_date"].nunique() == 7
    with pytest.raises(ValueError, match="too short"):
        model.time_split(split.test, CONFIG)


def test_retraining_on_the_same_snapshot_and_config_gives_the_same_metrics(connection):
    built = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF)
    evaluations = []
    for _ in range(2):
        split = model.time_split(snapshot.read_snapshot(connection, built.table_name, VIEW), CONFIG)
        pipeline = model.fit_pipeline(split.train, VIEW, CONFIG)
        evaluations.append(model.evaluate(split, VIEW, model.period_scores(pipeline, split, VIEW)))
    assert evaluations[0] == evaluations[1]
    assert set(evaluations[0]["test"]["model"]) == {"rows", "positives", "roc_auc", "pr_auc", "brier", "log_loss"}
    pngs = model.plots(*(model.labels(split.test, VIEW), model.predict_proba(
        model.fit_pipeline(split.train, VIEW, CONFIG), split.test, VIEW), model.baseline_scores(split.test, 0.3)))
    assert all(png.startswith(b"\x89PNG") for png in pngs.values())


def test_a_snapshot_past_max_rows_is_the_same_sample_of_flights_on_every_build(connection):
    whole = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF, max_rows=10**9)
    assert snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF, max_rows=whole.rows) == whole

    sample = snapshot.build_snapshot(connection, VIEW, "fp", CUTOFF, max_rows=whole.rows // 2)
    assert sample.snapshot_id != whole.snapshot_id
    assert 0.4 * whole.rows < sample.rows < 0.6 * whole.rows
    # The sampled flights' rows are the whole snapshot's rows for them, features and labels alike.
    assert not connection.sql(
        f"select * from {sample.table_name} except select * from {whole.table_name}"
    ).fetchall()
    again = snapshot.build_snapshot(connection, VIEW, "other", CUTOFF, max_rows=whole.rows // 2)
    assert again.snapshot_id == sample.snapshot_id


def _evaluation(overall: float, groups: dict[str, tuple[int, float]]) -> dict:
    return {
        "test": {"model": {"roc_auc": overall}},
        "groups": {"carrier": {k: {"rows": n, "roc_auc": auc} for k, (n, auc) in groups.items()}},
    }


@pytest.mark.parametrize(
    ("overall", "champion", "groups", "promote", "reason"),
    [
        (0.70, None, {"AA": (1000, 0.68)}, True, "no champion yet"),
        (0.70, 0.69, {"AA": (1000, 0.68)}, True, "beats the champion"),
        (0.70, 0.70, {"AA": (1000, 0.68)}, False, "does not beat the champion's 0.7000"),
        (0.70, None, {"AA": (1000, 0.59)}, False, "carrier AA"),
        (0.70, None, {"AA": (499, 0.40), "UA": (600, None)}, True, "no champion yet"),  # too few rows to judge
    ],
)
def test_promotion_gate(overall, champion, groups, promote, reason):
    decision = promotion_decision(_evaluation(overall, groups), champion, GateConfig(min_group_rows=500, max_group_gap=0.10))
    assert decision.promote is promote
    assert reason in decision.message


def test_config_fields_match_the_dagster_config():
    from fti_assets.training_pipeline.config import ModelConfig

    assert set(ModelConfig.model_fields) == {f.name for f in dataclasses.fields(model.TrainingConfig)} - {"threads"}
    assert ModelConfig().training_config() == model.TrainingConfig(), "the run config's defaults are the model's"
