"""The dbt manifest: the one reader of `target/manifest.json`, and the parse that keeps it current.

dagster-dbt prepares the manifest only under `dagster dev`; the CLI, tests and CI build the
definitions directly. So the manifest is parsed here when it is missing or older than any dbt
source file, at the start of a run or of a CLI command, never at import time. Within a process
it is read once while the file stays the same.

Dagster runs dbt commands in its own process (fti_assets/dbt/in_process.py), on dbt's parsed
manifest object, which is kept here too: parsed once per process, not once per command or day.
"""

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fti_assets import settings

FILE_NAME = "manifest.json"
DBT_SOURCE_DIRS = ("models", "macros", "seeds", "tests")
DBT_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")
# Environment a parse reads: dbt's own flags and the variables profiles.yml names. The replay
# window (FTI_START_DATE / FTI_END_DATE) is read only while executing, so it is not among them.
PARSE_ENV_PREFIXES = ("DBT_", "FTI_WAREHOUSE", "FTI_SPARK_")
PARSE_CACHE_PREFIX = "fti-parsed-"

_loaded: dict[Path, tuple[float, dict[str, Any]]] = {}
_parsed: dict[Path, tuple[tuple[Path, float], "Parsed"]] = {}
_guard = threading.Lock()


class Parsed:
    """One in-process parse: dbt's Manifest object, and its manifest.json as a dict on demand
    (its relation names are this warehouse's, which those of `load()` need not be)."""

    def __init__(self, manifest: Any):
        self.manifest = manifest

    @functools.cached_property
    def artifact(self) -> dict[str, Any]:
        return self.manifest.writable_manifest().to_dict(omit_none=False, context={"artifact": True})


def path(project_dir: Path = settings.DBT_PROJECT_DIR) -> Path:
    return project_dir / "target" / FILE_NAME


def newest_source_mtime(project_dir: Path) -> float:
    files = [project_dir / name for name in DBT_SOURCE_FILES]
    for folder in DBT_SOURCE_DIRS:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def dbt_executable() -> Path:
    """dbt from this environment, found without relying on PATH (a venv need not be active)."""
    return Path(sys.executable).with_name("dbt")


def ensure(project_dir: Path = settings.DBT_PROJECT_DIR) -> Path:
    """Parse the dbt project when its manifest is missing or older than its sources."""
    manifest = path(project_dir)
    if manifest.exists() and manifest.stat().st_mtime >= newest_source_mtime(project_dir):
        return manifest
    result = subprocess.run(
        [str(dbt_executable()), "parse", "--profiles-dir", str(project_dir), "--quiet"],
        cwd=project_dir,
        env={**os.environ, "FTI_WAREHOUSE": str(settings.warehouse_path())},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`dbt parse` failed in {project_dir}; run it there to see why:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return manifest


def load(project_dir: Path = settings.DBT_PROJECT_DIR) -> Mapping[str, Any]:
    """The current manifest, parsed first if needed; shared within the process: do not mutate it."""
    manifest = ensure(project_dir)
    modified = manifest.stat().st_mtime
    with _guard:
        cached = _loaded.get(manifest)
        if cached is None or cached[0] != modified:
            cached = _loaded[manifest] = (modified, json.loads(manifest.read_text()))
    return cached[1]


def parsed(project_dir: Path = settings.DBT_PROJECT_DIR) -> Parsed:
    """The project parsed in this process, for running dbt here; parsed again only when a dbt
    source changed or the warehouse did (dbt-duckdb names every node's database after its file).
    Shared by every dbt command of the process, as dbt's runner allows."""
    warehouse = settings.warehouse_path()
    key = (warehouse, newest_source_mtime(project_dir))
    with _guard:
        cached = _parsed.get(project_dir)
        if cached is None or cached[0] != key:
            with settings.environment({"FTI_WAREHOUSE": str(warehouse)}):
                cached = _parsed[project_dir] = (key, Parsed(_parse_or_reuse(project_dir, warehouse, key[1])))
    return cached[1]


def _parse_or_reuse(project_dir: Path, warehouse: Path, sources_mtime: float) -> Any:
    """dbt's Manifest object, from the project's parse cache when what a parse reads is unchanged.

    A parse costs about 2 s even when dbt's partial parsing finds nothing changed, and every new
    process (each Dagster run, each scheduled day) pays it. The parsed object itself is kept in
    `target/` (git-ignored, written only by this project's processes, like Python's own bytecode
    cache), keyed by everything a parse reads: the sources, the warehouse path, the versions of
    dbt and its adapter, and the environment variables the profile names."""
    from fti_assets.dbt import in_process

    inputs = {
        "warehouse": str(warehouse),
        "sources_mtime": sources_mtime,
        "versions": [importlib.metadata.version(p) for p in ("dbt-core", "dbt-duckdb")],
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith(PARSE_ENV_PREFIXES)},
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    cache = project_dir / "target" / f"{PARSE_CACHE_PREFIX}{digest}.pickle"
    if cache.exists():
        try:
            return _manifest_from(pickle.loads(cache.read_bytes()))
        except Exception:  # unreadable (written by another dbt, cut short): parse again
            cache.unlink(missing_ok=True)
    manifest = in_process.parse(project_dir)
    for stale in cache.parent.glob(f"{PARSE_CACHE_PREFIX}*.pickle"):
        stale.unlink(missing_ok=True)
    writing = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    writing.write_bytes(pickle.dumps(_manifest_fields(manifest), protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(writing, cache)
    return manifest


def _manifest_fields(manifest: Any) -> dict[str, Any]:
    """The Manifest's public fields. Its own pickling passes its fields by position and misses
    two (dbt-core 1.11), so the lookups land in the wrong fields; they are rebuilt on demand."""
    return {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest) if not f.name.startswith("_")}


def _manifest_from(fields: dict[str, Any]) -> Any:
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**fields)


def macro_closure(manifest: Mapping[str, Any], macro_ids: list[str]) -> list[str]:
    """The macros these macros call, recursively, themselves included."""
    seen: set[str] = set()
    pending = list(macro_ids)
    while pending:
        macro_id = pending.pop()
        if macro_id in seen or macro_id not in manifest["macros"]:
            continue
        seen.add(macro_id)
        pending.extend(manifest["macros"][macro_id].get("depends_on", {}).get("macros", []))
    return sorted(seen)
