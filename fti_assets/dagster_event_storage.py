"""The Dagster instance's event log: Dagster's own SQLite storage, with its index kept open.

A run over a year of replay days records one materialization per asset and day (about 4,400
for the feature_job). Dagster's SQLite storage creates an engine and opens and closes a database
file three times per materialization (the run's file, the cross-run index, and the index again to
ask whether a table exists); closing the last connection to a WAL file checkpoints it and syncs
the disk. Here the index stays open (`synchronous=NORMAL`), a table found is not looked up again,
and each file's engine is made once. A run's own file is still closed after each write, as
Dagster does: the UI follows a running run by watching that file change on disk.

Same files, tables and rows as Dagster's default (`dagster_home/dagster.yaml` selects this class):
the UI and other processes read them as before. What `synchronous=NORMAL` gives up, in WAL mode:
a power loss or OS crash (not a crash of the process) may lose the last events written.
"""

import collections
import contextlib
import os
from collections.abc import Iterator

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

# Dagster's own busy timeout for its SQLite files (sqlite_event_log.SQLITE_BUSY_TIMEOUT_SECONDS).
BUSY_TIMEOUT_SECONDS = 30
# Engines kept: the index's and the latest runs'. A process that reads many runs (the UI) drops
# the least recently used beyond this.
OPEN_FILES = 8


def _durable_on_process_crash(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous=NORMAL")


class OpenSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose index stays open between events (see the module)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: collections.OrderedDict[str, Engine] = collections.OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

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
