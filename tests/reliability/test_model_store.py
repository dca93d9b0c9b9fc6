"""A tampered model file is refused before anything in it is unpickled, and nothing is scored."""

import os
import shutil

import dagster as dg
import duckdb
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from fti_assets.runner import failure_messages, run_window
from fti_assets.stateful import model_store
from tests.conftest import DAY


def _flip_a_byte(folder, artifact: str) -> str:
    path = folder / "store" / artifact
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return "has sha256"


def _untrusted_model(folder, artifact: str) -> str:
    """A model that would run `os.system` when used, registered with its true hash: the
    registry row and the file agree, so only the type check stands in the way."""
    data = sio.dumps(FunctionTransformer(func=os.system))
    digest = model_store.sha256(data)
    (folder / "store" / f"{digest}.skops").write_bytes(data)
    with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
        connection.execute(
            "update registry.model_versions set artifact_sha256 = ?, artifact_path = ? where version = 1",
            [digest, f"{digest}.skops"],
        )
    return "outside TRUSTED_TYPES"


def _predictions(folder) -> list[tuple]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as connection:
        return connection.sql("select * from inference.predictions order by all").fetchall()


@pytest.mark.parametrize("tamper", [_flip_a_byte, _untrusted_model], ids=["hash mismatch", "untrusted type"])
def test_a_tampered_artifact_is_refused_unread_and_nothing_is_scored(tamper, scored, tmp_path, monkeypatch):
    folder, env = scored
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace(str(folder), str(copy)))
    with duckdb.connect(str(copy / "warehouse.duckdb")) as connection:
        (artifact,) = connection.sql("select artifact_path from registry.model_versions where version = 1").fetchall()[0]
        connection.sql("update inference.predictions set probability = 0.123")  # marks the old rows
    problem = tamper(copy, artifact)
    before = _predictions(copy)

    def must_not_load(*args, **kwargs):
        raise AssertionError("skops.io.loads was called on a refused artifact")

    monkeypatch.setattr(sio, "loads", must_not_load)
    monkeypatch.setattr(sio, "load", must_not_load)
    result = run_window("inference_job", DAY, DAY, dg.DagsterInstance.ephemeral())

    assert not result.success
    message = "\n".join(failure_messages(result))
    assert problem in message and "model artifact" in message, message
    assert "skops.io.loads was called" not in message
    assert _predictions(copy) == before


def test_the_untrusted_type_is_named(tmp_path):
    data = sio.dumps(FunctionTransformer(func=os.system))
    (tmp_path / "model.skops").write_bytes(data)
    with pytest.raises(model_store.ArtifactRefused, match=r"posix\.system|os\.system"):
        model_store.load(tmp_path, "model.skops", model_store.sha256(data))
