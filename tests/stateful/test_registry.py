"""The registry's alias history and the model store's refusals."""

import datetime as dt

import duckdb
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from fti_assets.stateful import model_store, registry


def _double(x):
    return x * 2


@pytest.fixture
def connection(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection


def _register(connection, sha="0" * 64, path="x.skops") -> int:
    return registry.register_version(
        connection, feature_view="v", feature_view_version=1, fingerprint="f", snapshot_id="s",
        input_versions={}, hyperparameters={"max_iter": 5}, metrics={"test": {"model": {"roc_auc": 0.7}}},
        artifact_sha256=sha, artifact_path=path,
    )


def _fitted(steps=()):
    x, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2 == 0
    return Pipeline([*steps, ("classifier", HistGradientBoostingClassifier(max_iter=3))]).fit(x, y)


def test_alias_history_keeps_closed_intervals(connection):
    v1, v2 = _register(connection), _register(connection)
    t1, t2 = dt.datetime(2013, 6, 1), dt.datetime(2013, 6, 8)
    registry.set_alias(connection, "champion", v1, "first", now=t1)
    registry.set_alias(connection, "champion", v2, "better", now=t2)
    registry.set_alias(connection, "challenger", v2, "trained")
    history = connection.sql(
        "select version, valid_from, valid_to from registry.alias_history where alias = 'champion' order by valid_from"
    ).fetchall()
    assert history == [(v1, t1, t2), (v2, t2, None)]
    assert registry.current_alias_version(connection, "champion") == v2
    assert registry.current_alias_version(connection, "nobody") is None


def test_set_alias_refuses_unknown_version(connection):
    with pytest.raises(LookupError, match="no model version 7"):
        registry.set_alias(connection, "champion", 7, "typo")


def test_load_model_by_alias_round_trips(connection, tmp_path):
    model = _fitted()
    sha, name = model_store.save(model, tmp_path / "store")
    assert name == f"{sha}.skops"
    version = _register(connection, sha, name)
    registry.set_alias(connection, "champion", version, "test")
    loaded, row = registry.load_model(connection, tmp_path / "store", "champion")
    assert row.version == version and row.hyperparameters == {"max_iter": 5}
    x = np.arange(10.0).reshape(5, 2)
    assert (loaded.predict_proba(x) == model.predict_proba(x)).all()


def test_missing_champion_names_the_fix(connection, tmp_path):
    with pytest.raises(LookupError, match="run the training_job first"):
        registry.load_model(connection, tmp_path, "champion")


def test_hash_mismatch_is_refused_before_deserialising(connection, tmp_path, monkeypatch):
    sha, name = model_store.save(_fitted(), tmp_path)
    version = _register(connection, sha, name)
    (tmp_path / name).write_bytes((tmp_path / name).read_bytes() + b"tampered")
    monkeypatch.setattr(sio, "loads", lambda *a, **k: pytest.fail("deserialised a tampered artifact"))
    monkeypatch.setattr(sio, "get_untrusted_types", lambda *a, **k: pytest.fail("inspected a tampered artifact"))
    with pytest.raises(model_store.ArtifactRefused, match="sha256"):
        registry.load_model(connection, tmp_path, version)


def test_untrusted_type_is_refused(connection, tmp_path, monkeypatch):
    sha, name = model_store.save(_fitted([("double", FunctionTransformer(_double))]), tmp_path)
    version = _register(connection, sha, name)
    monkeypatch.setattr(sio, "loads", lambda *a, **k: pytest.fail("deserialised an untrusted artifact"))
    with pytest.raises(model_store.ArtifactRefused, match="_double"):
        registry.load_model(connection, tmp_path, version)
