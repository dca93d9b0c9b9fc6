"""`fti verify`: re-check every stored training snapshot and model artifact against its recorded hash.

Snapshots are named by the hash of their rows and artifacts by the sha256 of their bytes, so a
table or file altered after it was written (by hand, by a bad restore, by a disk) no longer
matches its name. Training and scoring already refuse what they read; this checks everything.
"""

import dataclasses
from pathlib import Path

import duckdb

from fti_assets.stateful import model_store, registry
from fti_assets.training_pipeline import snapshot


@dataclasses.dataclass(frozen=True)
class Finding:
    kind: str  # "snapshot" or "model"
    name: str
    problem: str | None  # None: it matches its recorded hash

    def __str__(self) -> str:
        status = "ok" if self.problem is None else "CHANGED"
        return f"{status}  {self.kind} {self.name}" + (f": {self.problem}" if self.problem else "")


def _tables(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(connection.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchall())


def verify_all(connection: duckdb.DuckDBPyConnection, store: Path) -> list[Finding]:
    """One finding per snapshot in training.snapshots and per version in registry.model_versions."""
    findings = []
    if _tables(connection, snapshot.SCHEMA, "snapshots"):
        ids = connection.sql(f"select snapshot_id from {snapshot.SCHEMA}.snapshots order by created_at").fetchall()
        for (snapshot_id,) in ids:
            try:
                snapshot.verify(connection, snapshot_id)
                findings.append(Finding("snapshot", snapshot_id, None))
            except (snapshot.SnapshotChanged, duckdb.CatalogException) as problem:
                findings.append(Finding("snapshot", snapshot_id, str(problem).splitlines()[0]))
    if _tables(connection, registry.SCHEMA, "model_versions"):
        for version, name, sha in connection.sql(
            f"select version, artifact_path, artifact_sha256 from {registry.SCHEMA}.model_versions order by version"
        ).fetchall():
            try:
                model_store.verify(store, name, sha)
                findings.append(Finding("model", f"version {version}", None))
            except model_store.ArtifactRefused as problem:
                findings.append(Finding("model", f"version {version}", str(problem)))
    return findings
