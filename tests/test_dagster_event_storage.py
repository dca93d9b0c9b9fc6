"""The instance's event log storage keeps Dagster's files and rows: a run over a window of days
records one materialization per day, which Dagster's default storage reads back as its own."""

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


def _run_window(instance: dg.DagsterInstance, first: str, last: str) -> None:
    job = dg.Definitions(assets=[daily_rows], jobs=[dg.define_asset_job("days")]).resolve_job_def("days")
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
