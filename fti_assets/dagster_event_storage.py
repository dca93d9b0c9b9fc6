"""The Dagster instance's event log: Dagster's own SQLite storage, with its index kept open.

A run over a year of replay days records one materialization per asset and day (6,580
for the feature_job). Dagster's SQLite storage creates an engine and opens and closes a database
file three times per materialization (the run's file, the cross-run index, and the index again to
ask whether a table exists); closing the last connection to a WAL file checkpoints it and syncs
the disk. Here the index stays open (`synchronous=NORMAL`), a table found is not looked up again,
and each file's engine is made once. A run's own file is still closed after each write, as
Dagster does: the UI follows a running run by watching that file change on disk.

Dagster hands a storage the materializations of one output's partitions as one batch when
`DAGSTER_EVENT_BATCH_SIZE` is set (this storage sets it): a dbt model's 365 days of a year's run
are then written in one transaction per file, not 365. And a check planned for a year of days is
serialized once, not once per day.

Same files, tables and rows as Dagster's default (`dagster_home/dagster.yaml` selects this class):
the UI and other processes read them as before. What `synchronous=NORMAL` gives up, in WAL mode:
a power loss or OS crash (not a crash of the process) may lose the last events written.

Two additions keep a dead run from wedging the instance: a run's start records which process
runs it (run_health), and a refused pool claim waits asleep and tells whom it waits for (pool_wait).
"""

import collections
import contextlib
import os
from collections.abc import Iterator, Sequence

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

from fti_assets import run_health
from fti_assets.pool_wait import PoolWaiting

# Dagster's own busy timeout for its SQLite files (sqlite_event_log.SQLITE_BUSY_TIMEOUT_SECONDS).
BUSY_TIMEOUT_SECONDS = 30
# Dagster hands a storage the materializations of one output's partitions (a dbt model's 365 days)
# as one batch when this is set (dagster/_core/instance/methods/event_methods.py); this storage
# writes such a batch in one transaction per file. Its value bounds the events held back.
EVENT_BATCH_SIZE = "1000"
BATCHED_TYPES = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION}
# Engines kept: the index's and the latest runs'. A process that reads many runs (the UI) drops
# the least recently used beyond this.
OPEN_FILES = 8


def _durable_on_process_crash(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous=NORMAL")


class OpenSqliteEventLogStorage(PoolWaiting, SqliteEventLogStorage):
    """SqliteEventLogStorage whose index stays open between events (see the module)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: collections.OrderedDict[str, Engine] = collections.OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)
        # Dagster reads the switch from the environment of whichever process writes events (a
        # run worker the UI launched, the daemon, `fti`): every one of them builds this storage.
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict):
        """Without base_dir: where Dagster's default keeps the event log, under DAGSTER_HOME (a
        storage class is not told the instance's folder)."""
        base_dir = config_value.get("base_dir")
        if not base_dir:
            if "DAGSTER_HOME" not in os.environ:
                raise dg.DagsterInvariantViolationError(
                    f"{cls.__name__} needs base_dir in dagster.yaml, or DAGSTER_HOME set to the instance's folder"
                )
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "history", "runs", "")
        return cls(base_dir=base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine (the index's keeps its connection open); the least recently used dropped."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            pooling = {"pool_size": 1} if shard == INDEX_SHARD_NAME else {"poolclass": NullPool}
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **pooling
            )
            event.listen(engine, "connect", _durable_on_process_crash)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_FILES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """As Dagster's: one transaction per block, under the storage's lock."""
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def store_event(self, event: EventLogEntry) -> None:
        super().store_event(event)
        if event.dagster_event_type == DagsterEventType.RUN_START:
            # Stored by the process that executes the run, whoever launched it.
            self._instance.add_run_tags(event.run_id, run_health.identity_tags())

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """One output's materializations (or observations) in one transaction per file, the rows
        Dagster's `store_event` writes one event at a time; any other batch goes event by event."""
        kinds = {(entry.run_id, entry.dagster_event_type) for entry in events}
        if len(kinds) != 1 or next(iter(kinds))[1] not in BATCHED_TYPES:
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(entry) for entry in events]
        with self.run_connection(events[0].run_id) as connection:
            connection.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as connection:
            # The index's own ids, one insert at a time: each event's tags and record point at its id.
            ids = [
                connection.execute(SqlEventLogStorageTable.insert().values(**row)).inserted_primary_key[0]
                for row in rows
            ]
            self._store_asset_event_tags(connection, events, ids)
            # An asset's row holds its latest event: event by event, each would overwrite the last.
            latest = {}
            for entry, event_id in zip(events, ids, strict=True):
                latest[entry.dagster_event.asset_key] = (entry, event_id)
            for entry, event_id in latest.values():
                self._store_asset_event(connection, entry, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's rows (one per planned partition), with the event serialized once, not once
        per partition: a year's run plans each of its checks for 365 days."""
        planned = event.get_dagster_event().event_specific_data
        partition_keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as connection:
            connection.execute(
                AssetCheckExecutionsTable.insert().values([{**common, "partition": key} for key in partition_keys])
            )

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before storing each event's tags, opening the index file anew each time;
        a table, once there, stays (migrations add tables, wipes empty them)."""
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def _close_files(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        # Dagster deletes the runs' files: none may stay open.
        self._close_files()
        super().wipe()

    def dispose(self) -> None:
        self._close_files()
        super().dispose()
