"""A process killed (SIGKILL) in the middle of a write leaves nothing half written, and the
next write produces exactly what an uninterrupted one would.

Each case runs the product's own write function in a child process, paused by this test's
script (never by product code) at the worst moment: inside the transaction after every row is
written but before the commit, or between writing a model file and renaming it into place.
"""

import datetime as dt
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from fti_assets import manifest, settings
from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
from fti_assets.feature_views.view import fingerprint
from fti_assets.inference_pipeline import predictions_table
from fti_assets.stateful import model_store, registry
from fti_assets.stateful.warehouse import connect
from fti_assets.training_pipeline import snapshot
from tests.conftest import LAST

NOW = dt.datetime(2013, 1, 6, 12, 0)
CUTOFF = LAST - dt.timedelta(days=1)  # a snapshot the fixture has not built yet

# The child: pause `module.<name>` (a context manager or a function) where the test says, then run `work`.
CHILD = textwrap.dedent("""
    import contextlib, datetime as dt, importlib, json, os, sys, time
    from pathlib import Path
    from fti_assets.stateful.warehouse import connect
    warehouse, store, module_name, attribute = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)

    def pause():
        print("PAUSED", flush=True)
        time.sleep(600)

    @contextlib.contextmanager
    def paused_transaction(connection):
        with original(connection):
            yield connection
            pause()  # every row written, not yet committed

    def paused_replace(source, target):
        pause()  # the temp file is written, not yet renamed into place

    setattr(module, attribute, paused_replace if attribute == "replace" else paused_transaction)
""")

WORK = {
    "training snapshot": ("fti_assets.training_pipeline.snapshot", "transaction", """
        from fti_assets.training_pipeline import snapshot
        from fti_assets.feature_views.declared import FLIGHT_DISRUPTION_V1 as VIEW
        from fti_assets.feature_views.view import fingerprint
        from fti_assets import manifest
        with connect(warehouse) as connection:
            snapshot.build_snapshot(connection, VIEW, fingerprint(VIEW, manifest.load()), dt.date.fromisoformat(sys.argv[5]), now=dt.datetime(2013, 1, 6, 12))
    """),
    "registry entry": ("fti_assets.stateful.registry", "transaction", """
        from fti_assets.stateful import registry
        with connect(warehouse) as connection:
            registry.register_version(connection, **json.loads(sys.argv[5]), now=dt.datetime(2013, 1, 6, 12))
    """),
    "model file": ("os", "replace", """
        from fti_assets.stateful import model_store, registry
        with connect(warehouse, read_only=True) as connection:
            pipeline, _ = registry.load_model(connection, Path(sys.argv[5]), "champion")
        model_store.save(pipeline, store)
    """),
    "predictions partition": ("fti_assets.inference_pipeline.predictions_table", "transaction", """
        from fti_assets.inference_pipeline import predictions_table
        day = dt.date.fromisoformat(sys.argv[5])
        with connect(warehouse) as connection:
            predictions = connection.sql("select * from inference.predictions").df()
            features = connection.sql("select * from inference.scored_features").df()
            with predictions_table.window_writer(connection, day, day, 1, list(features.columns[3:])) as write:
                write(predictions.assign(probability=predictions.probability / 2), features)
    """),
}


def _registry_args(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = registry.get_version(connection, 1)
    return {
        "feature_view": row.feature_view, "feature_view_version": row.feature_view_version,
        "fingerprint": row.fingerprint, "snapshot_id": row.snapshot_id, "input_versions": row.input_versions,
        "hyperparameters": row.hyperparameters, "metrics": row.metrics,
        "artifact_sha256": row.artifact_sha256, "artifact_path": row.artifact_path,
    }


def _write(case: str, warehouse: Path, store: Path, scored_store: Path) -> None:
    """The same write, uninterrupted, in this process: what the next run does after a crash."""
    if case == "training snapshot":
        with connect(warehouse) as connection:
            snapshot.build_snapshot(connection, VIEW, fingerprint(VIEW, manifest.load()), CUTOFF, now=NOW)
    elif case == "registry entry":
        args = _registry_args(warehouse)
        with connect(warehouse) as connection:
            registry.register_version(connection, **args, now=NOW)
    elif case == "model file":
        with connect(warehouse, read_only=True) as connection:
            pipeline, _ = registry.load_model(connection, scored_store, "champion")
        model_store.save(pipeline, store)
    else:
        with connect(warehouse) as connection:
            predictions = connection.sql("select * from inference.predictions").df()
            features = connection.sql("select * from inference.scored_features").df()
            with predictions_table.window_writer(connection, LAST, LAST, 1, list(features.columns[3:])) as write:
                write(predictions.assign(probability=predictions.probability / 2), features)


def _state(warehouse: Path, store: Path) -> dict:
    """Everything a reader can see: every table's rows, and the files of the model store."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = connection.sql(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('training', 'registry', 'inference') order by 1"
        ).fetchall()
        rows = {t: connection.sql(f"select * from {t} order by all").fetchall() for (t,) in tables}
    files = {p.name: p.read_bytes() for p in sorted(store.iterdir())} if store.exists() else {}
    return {"tables": rows, "files": files}


def _copy(scored, folder: Path) -> tuple[Path, Path]:
    source, _ = scored
    shutil.copytree(source, folder)
    empty_store = folder / "empty_store"  # the model file case saves into a store without it
    return folder / "warehouse.duckdb", empty_store


@pytest.mark.parametrize("case", WORK)
def test_sigkill_mid_write_leaves_nothing_partial_and_the_rerun_matches(case, scored, tmp_path):
    warehouse, store = _copy(scored, tmp_path / "crashed")
    scored_store = tmp_path / "crashed" / "store"
    before = _state(warehouse, store)
    module, attribute, work = WORK[case]
    extra = {
        "training snapshot": str(CUTOFF),
        "registry entry": __import__("json").dumps(_registry_args(warehouse), default=str),
        "model file": str(scored_store),
        "predictions partition": str(LAST),
    }[case]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD + textwrap.dedent(work), str(warehouse), str(store), module, attribute, extra],
        cwd=settings.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "PAUSED", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    after_crash = _state(warehouse, store)
    # Nothing half-written is visible: no table, row or model file the crash added or removed
    # (a model store's temp file may remain: it is not a model, and the next save removes it).
    assert after_crash["tables"] == before["tables"]
    assert [n for n in after_crash["files"] if not n.startswith(".saving-")] == list(before["files"])
    assert not [t for t in after_crash["tables"] if "building_" in t]

    _write(case, warehouse, store, scored_store)
    reference, reference_store = _copy(scored, tmp_path / "uninterrupted")
    _write(case, reference, reference_store, tmp_path / "uninterrupted" / "store")
    rerun, uninterrupted = _state(warehouse, store), _state(reference, reference_store)
    assert rerun != before
    assert rerun["tables"] == uninterrupted["tables"]
    if case == "model file":
        # skops stamps the write time into its zip, so equal models saved at different seconds
        # differ in bytes: compare what was stored, one complete artifact named by its hash.
        assert len(rerun["files"]) == len(uninterrupted["files"]) == 1
        assert all(model_store.sha256(data) + ".skops" == name for name, data in rerun["files"].items())
    else:
        assert rerun["files"] == uninterrupted["files"]
