"""The model registry: the `registry` schema (versions, alias history) plus the model store.

Plain SQL tables, so lineage and alias history are queryable by anyone with the warehouse.
An alias interval is [valid_from, valid_to); the open interval (valid_to null) is current.
"""

import dataclasses
import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from fti_assets.stateful import model_store
from fti_assets.stateful.warehouse import transaction

SCHEMA = "registry"
# Beside the warehouse: the versions the aliases point to, rewritten whenever an alias moves,
# so that a long-lived reader (the online service) follows them without opening the warehouse.
PUBLISHED_ALIASES = "registry_aliases.json"

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.model_versions (
        version integer primary key,
        created_at timestamp not null,
        feature_view varchar not null,
        feature_view_version integer not null,
        fingerprint varchar not null,
        snapshot_id varchar not null,
        input_versions json,
        hyperparameters json,
        metrics json,
        artifact_sha256 varchar not null,
        artifact_path varchar not null
    )""",
    f"""create table if not exists {SCHEMA}.alias_history (
        alias varchar not null,
        version integer not null,
        valid_from timestamp not null,
        valid_to timestamp,
        reason varchar not null
    )""",
    f"""create table if not exists {SCHEMA}.gate_decisions (
        version integer not null,
        decided_at timestamp not null,
        outcome varchar not null,
        champion_version integer,
        reason varchar not null
    )""",
)


@dataclasses.dataclass(frozen=True)
class ModelVersion:
    version: int
    created_at: dt.datetime
    feature_view: str
    feature_view_version: int
    fingerprint: str
    snapshot_id: str
    input_versions: dict
    hyperparameters: dict
    metrics: dict
    artifact_sha256: str
    artifact_path: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.sql(statement)


def _exists(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the registry was created; reads never create it (they may be read-only)."""
    return bool(connection.sql(
        f"select 1 from information_schema.tables where table_schema = '{SCHEMA}' and table_name = 'alias_history'"
    ).fetchall())


def register_version(
    connection: duckdb.DuckDBPyConnection,
    *,
    feature_view: str,
    feature_view_version: int,
    fingerprint: str,
    snapshot_id: str,
    input_versions: dict,
    hyperparameters: dict,
    metrics: dict,
    artifact_sha256: str,
    artifact_path: str,
    now: dt.datetime | None = None,
    with_version: Callable[[int], None] | None = None,
) -> int:
    """Record a new model version (the next integer) and return it. `with_version(version)` runs
    inside the same transaction: rows that must exist exactly when the version does."""
    ensure_schema(connection)
    with transaction(connection):
        version = connection.sql(f"select coalesce(max(version), 0) + 1 from {SCHEMA}.model_versions").fetchall()[0][0]
        connection.execute(
            f"insert into {SCHEMA}.model_versions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [version, now or _now(), feature_view, feature_view_version, fingerprint, snapshot_id,
             json.dumps(input_versions, sort_keys=True, default=str),
             json.dumps(hyperparameters, sort_keys=True, default=str),
             json.dumps(metrics, sort_keys=True, default=str),
             artifact_sha256, artifact_path],
        ).fetchall()
        if with_version is not None:
            with_version(version)
    return version


def unjudged_version(
    connection: duckdb.DuckDBPyConnection, snapshot_id: str, hyperparameters: dict, code_version: str
) -> int | None:
    """A version fitted on this snapshot with these hyperparameters by this training code that the
    promotion gate never judged: its run ended between registering and the gate. The fit is
    deterministic, so the run that resumes judges that version rather than registering it twice."""
    if not _exists(connection):
        return None
    rows = connection.execute(
        f"select version, hyperparameters, input_versions from {SCHEMA}.model_versions "
        f"where snapshot_id = ? and version not in (select version from {SCHEMA}.gate_decisions) "
        "order by version desc",
        [snapshot_id],
    ).fetchall()
    wanted = json.loads(json.dumps(hyperparameters, sort_keys=True, default=str))
    for version, stored, inputs in rows:
        if json.loads(stored) == wanted and json.loads(inputs or "{}").get("code_version") == code_version:
            return version
    return None


def was_alias(connection: duckdb.DuckDBPyConnection, alias: str, version: int) -> bool:
    """Whether `alias` ever pointed at `version`."""
    return bool(_exists(connection) and connection.execute(
        f"select 1 from {SCHEMA}.alias_history where alias = ? and version = ?", [alias, version]
    ).fetchall())


def versions(connection: duckdb.DuckDBPyConnection) -> list[int]:
    """Every registered model version, oldest first (none before the first registration)."""
    if not _exists(connection):
        return []
    return [v for (v,) in connection.sql(f"select version from {SCHEMA}.model_versions order by version").fetchall()]


def get_version(connection: duckdb.DuckDBPyConnection, version: int) -> ModelVersion:
    rows = _exists(connection) and connection.sql(
        f"select * from {SCHEMA}.model_versions where version = {int(version)}"
    ).fetchall()
    if not rows:
        raise LookupError(f"no model version {version} in {SCHEMA}.model_versions")
    row = list(rows[0])
    for i in (6, 7, 8):
        row[i] = json.loads(row[i]) if row[i] is not None else {}
    return ModelVersion(*row)


def aliases(system: str) -> tuple[str, str]:
    """A system's (champion, challenger) aliases: the batch system's are `champion` and
    `challenger`; another system's carry its name (`intraday_champion`), so the two systems'
    models sit side by side in one registry and one alias history."""
    return ("champion", "challenger") if system == "batch" else (f"{system}_champion", f"{system}_challenger")


def current_alias_version(connection: duckdb.DuckDBPyConnection, alias: str) -> int | None:
    """The version the alias points to now, or None if it was never set."""
    rows = _exists(connection) and connection.execute(
        f"select version from {SCHEMA}.alias_history where alias = ? and valid_to is null", [alias]
    ).fetchall()
    return rows[0][0] if rows else None


def _move_alias(connection: duckdb.DuckDBPyConnection, alias: str, version: int, reason: str, at: dt.datetime) -> None:
    connection.execute(
        f"update {SCHEMA}.alias_history set valid_to = ? where alias = ? and valid_to is null", [at, alias]
    ).fetchall()
    connection.execute(
        f"insert into {SCHEMA}.alias_history values (?, ?, ?, null, ?)", [alias, version, at, reason]
    ).fetchall()


def set_alias(
    connection: duckdb.DuckDBPyConnection, alias: str, version: int, reason: str, now: dt.datetime | None = None
) -> None:
    """Point `alias` at `version`: close the open interval and open a new one, atomically."""
    get_version(connection, version)
    with transaction(connection):
        _move_alias(connection, alias, version, reason, now or _now())
    publish_aliases(connection)


def record_decision(
    connection: duckdb.DuckDBPyConnection,
    version: int,
    promote: bool,
    reason: str,
    now: dt.datetime | None = None,
    alias: str = "champion",
) -> int | None:
    """Keep the promotion gate's verdict on a challenger, with why, and move the champion
    `alias` to it when promoted, in one transaction. A rejected challenger stays registered and
    queryable (outcome 'rejected'), and the champion is kept. Returns the champion before the decision."""
    get_version(connection, version)
    ensure_schema(connection)
    at = now or _now()
    champion = current_alias_version(connection, alias)
    with transaction(connection):
        if promote:
            _move_alias(connection, alias, version, reason, at)
        connection.execute(
            f"insert into {SCHEMA}.gate_decisions values (?, ?, ?, ?, ?)",
            [version, at, "promoted" if promote else "rejected", champion, reason],
        ).fetchall()
    publish_aliases(connection)
    return champion


def _database_file(connection: duckdb.DuckDBPyConnection) -> Path | None:
    path = connection.sql(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]
    return Path(path) if path else None


def publish_aliases(connection: duckdb.DuckDBPyConnection) -> Path | None:
    """Write the current aliases and their versions' rows to PUBLISHED_ALIASES beside the
    warehouse (temp file and rename: a reader sees the old file or the new one)."""
    database = _database_file(connection)
    if database is None:
        return None
    aliases = dict(
        connection.sql(f"select alias, version from {SCHEMA}.alias_history where valid_to is null").fetchall()
    )
    published = {
        "aliases": aliases,
        "versions": {str(v): dataclasses.asdict(get_version(connection, v)) for v in sorted(set(aliases.values()))},
    }
    target = database.parent / PUBLISHED_ALIASES
    with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=".aliases-", delete=False) as handle:
        json.dump(published, handle, sort_keys=True, default=str)
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile creates 0600: readable like the warehouse
    os.replace(handle.name, target)
    return target


def read_published_aliases(warehouse: Path) -> dict[str, Any]:
    """What `publish_aliases` last wrote beside the warehouse: {"aliases": {...}, "versions": {...}}."""
    path = warehouse.parent / PUBLISHED_ALIASES
    if not path.exists():
        raise LookupError(f"no {PUBLISHED_ALIASES} beside {warehouse}: promote a model first (`fti promote`)")
    return json.loads(path.read_text())


def resolve(connection: duckdb.DuckDBPyConnection, version_or_alias: int | str) -> ModelVersion:
    """A version number, or an alias such as 'champion', to its registry row."""
    if isinstance(version_or_alias, int) or str(version_or_alias).isdigit():
        return get_version(connection, int(version_or_alias))
    version = current_alias_version(connection, str(version_or_alias))
    if version is None:
        raise LookupError(f"no {version_or_alias} in the registry: run the training_job first")
    return get_version(connection, version)


def load_model(
    connection: duckdb.DuckDBPyConnection, store: Path, version_or_alias: int | str
) -> tuple[Any, ModelVersion]:
    """The fitted pipeline and its registry row; the artifact's hash and types are checked first."""
    row = resolve(connection, version_or_alias)
    return model_store.load(store, row.artifact_path, row.artifact_sha256), row
