"""One writer at a time: concurrent runs, readers and foreign lock holders wait, never fail."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pytest

from fti_assets import settings
from fti_assets.export import export_tables
from fti_assets.stateful import warehouse_lock
from fti_assets.stateful.warehouse import connect
from tests.conftest import DAY, TRAINING_RUN

RUN_SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import dagster as dg
    from fti_assets.runner import failure_messages, run_once, run_window
    job, start, end, config = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    instance = dg.DagsterInstance.get()
    result = (run_window(job, start, end, instance, config) if start else run_once(job, instance, config))
    print("RESULT " + json.dumps({"success": result.success, "run_id": result.run_id, "errors": failure_messages(result)}))
""")


def _launch(job: str, start: str, end: str, config: dict, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT, job, start, end, json.dumps(config)],
        env=env, cwd=settings.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_backfill_training_and_daily_job_at_once_all_succeed(scored, tmp_path, monkeypatch):
    """A feature backfill, a training run and the daily job, launched together as three
    processes against one persistent Dagster instance and one warehouse."""
    folder, env = scored
    shutil.copytree(folder, tmp_path / "copy")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.REPO_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    # The committed configuration keeps the event log under DAGSTER_HOME.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # The instance exists before runs are launched (three processes creating its storage at
    # once race in Dagster's own schema migration).
    with dg.DagsterInstance.from_config(str(home)):
        pass
    warehouse = tmp_path / "copy" / "warehouse.duckdb"
    # No champion: the training run's model is promoted whatever the order of the runs, and
    # the daily job scores with version 1 explicitly.
    with duckdb.connect(str(warehouse)) as connection:
        connection.sql("delete from registry.alias_history")
    run_env = {
        **os.environ, **env, "DAGSTER_HOME": str(home), "FTI_WAREHOUSE": str(warehouse),
        "FTI_MODEL_STORE": str(tmp_path / "copy" / "store"),
    }
    runs = {
        "feature backfill": _launch("feature_job", "2013-01-01", DAY, {}, run_env),
        "training": _launch("training_job", "", "", TRAINING_RUN, run_env),
        "daily job": _launch("daily_replay_job", DAY, DAY, {"ops": {"inference__batch_predictions": {"config": {"model": "1"}}}}, run_env),
    }

    try:
        outputs = {name: process.communicate(timeout=900) for name, process in runs.items()}
    finally:
        for process in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    for name, (stdout, stderr) in outputs.items():
        assert "Could not set lock" not in stdout + stderr, f"{name}:\n{stderr[-3000:]}"
        result = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
        assert result, f"{name} crashed:\n{stderr[-3000:]}"
        outcome = json.loads(result[0].removeprefix("RESULT "))
        assert outcome["success"], f"{name}: {outcome['errors']}"
        assert runs[name].returncode == 0
    instance = dg.DagsterInstance.from_config(str(home))
    records = instance.get_run_records()
    assert len(records) == 3
    # They really ran at the same time: every run started before any of them ended.
    assert max(r.start_time for r in records) < min(r.end_time for r in records)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        champion = connection.sql("select version from registry.alias_history where alias = 'champion'").fetchall()
        scored_flights = connection.sql(
            f"select count(*) from inference.predictions where scheduled_dep_date = '{DAY}' and model_version = 1"
        ).fetchall()
        flights = connection.sql(
            f"select count(*) from features.flight_spine_v1 where scheduled_dep_date = '{DAY}'"
        ).fetchall()
    assert champion == [(2,)]
    assert scored_flights == flights
    # Dagster's pool (duckdb_writer, limit 1) also queued writing steps across the runs;
    # the file lock holds whether or not it did.
    blocked = [
        event for record in records for event in instance.all_logs(record.dagster_run.run_id)
        if "blocked by limit for pool duckdb_writer" in (event.user_message or "")
    ]
    print(f"steps queued by the duckdb_writer pool: {len(blocked)}")


HOLD_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    {opener}
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
""")
OUR_WRITER = "from fti_assets.stateful.warehouse import connect\nopened = connect(Path(sys.argv[1]))\nconnection = opened.__enter__()"
FOREIGN_WRITER = "import duckdb\nconnection = duckdb.connect(sys.argv[1])"


def _hold(warehouse, opener: str, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT.format(opener=opener), str(warehouse), str(seconds)],
        cwd=settings.REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline().strip() == "holding"
    return process


@pytest.fixture
def small_warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.sql("create schema inference; create table inference.predictions as select 1 as flight_id")
    return path


@pytest.mark.parametrize("opener", [OUR_WRITER, FOREIGN_WRITER], ids=["pipeline writer", "foreign duckdb writer"])
def test_a_reader_waits_for_a_writer_instead_of_failing(small_warehouse, opener):
    holder = _hold(small_warehouse, opener, 2)
    started = time.monotonic()
    with connect(small_warehouse, read_only=True) as connection:
        assert connection.sql("select count(*) from inference.predictions").fetchall() == [(1,)]
    assert time.monotonic() - started > 0.5  # it waited for the writer
    holder.wait(timeout=30)


def test_a_wait_for_the_warehouse_says_which_live_process_holds_it(small_warehouse, capsys):
    holder = _hold(small_warehouse, OUR_WRITER, 2.5)
    with connect(small_warehouse, read_only=True):
        pass
    holder.wait(timeout=30)
    waited = capsys.readouterr().err
    assert f"waiting for the warehouse {small_warehouse} for 1 s: held by pid {holder.pid}: " in waited
    assert waited.strip().endswith("process alive")


@pytest.mark.parametrize("opener", [OUR_WRITER, FOREIGN_WRITER], ids=["pipeline writer", "foreign duckdb writer"])
def test_a_writer_held_too_long_gives_a_readable_message(small_warehouse, opener, monkeypatch):
    monkeypatch.setenv(warehouse_lock.TIMEOUT_ENV, "0.5")
    holder = _hold(small_warehouse, opener, 20)
    try:
        with pytest.raises(warehouse_lock.WarehouseBusy) as busy:
            with connect(small_warehouse):
                pass
    finally:
        holder.kill()
        holder.wait()
    message = str(busy.value)
    assert "stayed busy" in message and warehouse_lock.TIMEOUT_ENV in message and "fti export" in message
    assert not isinstance(busy.value, duckdb.Error)


def test_export_writes_files_readers_query_without_the_warehouse(small_warehouse, tmp_path):
    (exported,) = export_tables(small_warehouse, tmp_path / "export")
    assert exported.name == "inference.predictions.parquet"
    holder = _hold(small_warehouse, OUR_WRITER, 20)  # a writer holds the warehouse meanwhile
    try:
        rows = duckdb.sql(f"select count(*) from '{exported}'").fetchall()
    finally:
        holder.kill()
        holder.wait()
    assert rows == [(1,)]
