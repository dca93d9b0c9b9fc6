"""The instance's event log storage keeps Dagster's files and rows: a run over a window of days
records one materialization per day, which Dagster's default storage reads back as its own."""

import os
import sqlite3
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from fti_assets import dagster_event_storage
from fti_assets.dagster_event_storage import OpenSqliteEventLogStorage

DAYS = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2013-02-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset_check(asset=daily_rows)
def daily_rows_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _run_window(instance: dg.DagsterInstance, first: str, last: str) -> None:
    definitions = dg.Definitions(
        assets=[daily_rows], asset_checks=[daily_rows_positive], jobs=[dg.define_asset_job("days")]
    )
    job = definitions.resolve_job_def("days")
    result = job.execute_in_process(
        instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    )
    assert result.success


def test_committed_instance_uses_it_and_defaults_to_dagsters_folder(isolated_env):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, OpenSqliteEventLogStorage)
        assert storage._base_dir == str(isolated_env / "dagster_home" / "history" / "runs")


def test_dagsters_own_storage_reads_what_it_wrote(isolated_env):
    with dg.DagsterInstance.get() as instance:
        _run_window(instance, "2013-01-01", "2013-01-10")
        run_id = instance.get_runs()[0].run_id

    plain = SqliteEventLogStorage(str(isolated_env / "dagster_home" / "history" / "runs"))
    materialized = plain.get_materialized_partitions(dg.AssetKey("daily_rows"))
    assert materialized == {f"2013-01-{day:02d}" for day in range(1, 11)}
    assert len(plain.get_logs_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)) == 10


def test_a_runs_own_file_changes_with_each_event_as_the_ui_watches_it(isolated_env):
    with dg.DagsterInstance.get() as instance:
        _run_window(instance, "2013-01-01", "2013-01-02")
        run_id = instance.get_runs()[0].run_id
        runs = isolated_env / "dagster_home" / "history" / "runs"
        # Closed after each write: checkpointed into <run>.db, the file Dagster's watcher follows.
        assert (runs / f"{run_id}.db").exists()
        assert not (runs / f"{run_id}.db-wal").exists()


def test_keeps_at_most_a_few_files_open(isolated_env, monkeypatch):
    monkeypatch.setattr(dagster_event_storage, "OPEN_FILES", 2)
    with dg.DagsterInstance.get() as instance:
        for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
            _run_window(instance, day, day)
        assert len(instance.event_log_storage._engines) == 2
        assert instance.get_asset_records([dg.AssetKey("daily_rows")])[0] is not None


def test_without_base_dir_or_dagster_home_it_says_what_is_missing(isolated_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME")
    with pytest.raises(dg.DagsterInvariantViolationError, match="DAGSTER_HOME"):
        dg.DagsterInstance.from_config(str(isolated_env / "dagster_home")).get_runs()


def test_a_table_found_is_not_looked_up_again(isolated_env, monkeypatch):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert storage.has_table("asset_event_tags")
        monkeypatch.setattr(SqliteEventLogStorage, "has_table", lambda *_: pytest.fail("looked up again"))
        assert storage.has_table("asset_event_tags")


def _rows(database: Path, query: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return sorted(connection.execute(query).fetchall(), key=repr)


def _stored(home: Path) -> dict[str, list[tuple]]:
    """What a storage wrote for its one run, without the run's own ids and times."""
    runs = home / "history" / "runs"
    (run_file,) = [path for path in runs.glob("*.db") if path.name != "index.db"]
    events = "select dagster_event_type, asset_key, partition, step_key from event_logs"
    return {
        "run file": _rows(run_file, events),
        "index": _rows(runs / "index.db", events),
        "tags": _rows(runs / "index.db", "select asset_key, key from asset_event_tags"),
        "checks": _rows(
            runs / "index.db", "select asset_key, check_name, partition, execution_status from asset_check_executions"
        ),
        # The asset's latest materialization, and the index row its storage id points at.
        "latest": _rows(
            runs / "index.db",
            "select asset_key, json_extract(last_materialization, '$.event_log_entry.dagster_event"
            ".event_specific_data.materialization.partition'), (select partition from event_logs"
            " where id = json_extract(last_materialization, '$.storage_id')) from asset_keys",
        ),
    }


def test_a_window_written_in_batches_stores_the_rows_dagster_writes_event_by_event(isolated_env, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", dagster_event_storage.EVENT_BATCH_SIZE)
    batches = []
    batched = OpenSqliteEventLogStorage.store_event_batch
    monkeypatch.setattr(
        OpenSqliteEventLogStorage,
        "store_event_batch",
        lambda self, events: (
            batches.append(sorted(e.dagster_event_type.value for e in events)) or batched(self, events)
        ),
    )
    with dg.DagsterInstance.get() as instance:
        _run_window(instance, "2013-01-01", "2013-01-10")
    assert ["ASSET_MATERIALIZATION"] * 10 in batches  # the window's days, handed over as one batch

    dagsters = isolated_env / "dagsters_home"
    dagsters.mkdir()
    (dagsters / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(dagsters)) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        _run_window(instance, "2013-01-01", "2013-01-10")

    ours, theirs = _stored(isolated_env / "dagster_home"), _stored(dagsters)
    assert ours == theirs
    assert [row[2] for row in ours["checks"] if row[3] == "PLANNED"] == [f"2013-01-{day:02d}" for day in range(1, 11)]
    assert ours["latest"] == [('["daily_rows"]', "2013-01-10", "2013-01-10")]
    assert len(ours["tags"]) == 10  # each day's data version


def test_the_storage_turns_dagsters_batches_on_unless_told_otherwise(isolated_env, monkeypatch):
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    with dg.DagsterInstance.get():
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == dagster_event_storage.EVENT_BATCH_SIZE
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    with dg.DagsterInstance.get():
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "0"
