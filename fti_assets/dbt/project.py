"""The dbt project and its manifest, kept current without `dagster dev`.

dagster-dbt prepares the manifest only under `dagster dev`; the CLI, tests and CI load the
definitions directly, so the manifest is re-parsed here when any dbt source file is newer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from fti_assets import settings

DBT_SOURCE_DIRS = ("models", "macros", "seeds", "tests")
DBT_SOURCE_FILES = ("dbt_project.yml", "profiles.yml")


def newest_source_mtime(project_dir: Path) -> float:
    files = [project_dir / name for name in DBT_SOURCE_FILES]
    for folder in DBT_SOURCE_DIRS:
        files.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return max(p.stat().st_mtime for p in files if p.exists())


def dbt_executable() -> Path:
    """dbt from this environment, found without relying on PATH (a venv need not be active)."""
    return Path(sys.executable).with_name("dbt")


def ensure_manifest(project_dir: Path = settings.DBT_PROJECT_DIR) -> Path:
    """Parse the dbt project when its manifest is missing or older than its sources."""
    manifest = project_dir / "target" / "manifest.json"
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


def current_manifest(project_dir: Path = settings.DBT_PROJECT_DIR) -> dict:
    """The manifest of the dbt code as it is now, re-parsed first if any dbt source changed since:
    every fingerprint check (scoring, promotion, the gate) compares against today's code."""
    return json.loads(ensure_manifest(project_dir).read_text())


dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
ensure_manifest()
