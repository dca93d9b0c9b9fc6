"""The parsed dbt project is reused by new processes only while what a parse reads is unchanged."""

import os
import shutil

import pytest

from fti_assets import manifest, settings
from fti_assets.dbt import in_process


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the dbt project without its parse state, and a process that has parsed nothing."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setattr(manifest, "_parsed", {})
    return copy


def parses(monkeypatch) -> list:
    calls = []
    real = in_process.parse

    def counted(project_dir, *args):
        calls.append(project_dir)
        return real(project_dir, *args)

    monkeypatch.setattr(in_process, "parse", counted)
    return calls


def new_process(monkeypatch) -> None:
    monkeypatch.setattr(manifest, "_parsed", {})


def test_a_new_process_reuses_the_parse_until_a_source_or_the_profile_environment_changes(project, monkeypatch):
    calls = parses(monkeypatch)
    first = manifest.parsed(project).manifest
    assert len(calls) == 1
    assert len(list((project / "target").glob(f"{manifest.PARSE_CACHE_PREFIX}*.pickle"))) == 1

    new_process(monkeypatch)
    reused = manifest.parsed(project).manifest
    assert len(calls) == 1
    assert sorted(reused.nodes) == sorted(first.nodes)
    assert reused.nodes["model.fti.stg_flights"].raw_code == first.nodes["model.fti.stg_flights"].raw_code

    model = project / "models" / "staging" / "stg_flights.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    os.utime(model, (model.stat().st_atime + 10, model.stat().st_mtime + 10))
    new_process(monkeypatch)
    edited = manifest.parsed(project).manifest
    assert len(calls) == 2
    assert edited.nodes["model.fti.stg_flights"].raw_code.rstrip().endswith("-- edited")
    assert len(list((project / "target").glob(f"{manifest.PARSE_CACHE_PREFIX}*.pickle"))) == 1

    monkeypatch.setenv("FTI_SPARK_DIR", str(project / "elsewhere"))
    new_process(monkeypatch)
    manifest.parsed(project)
    assert len(calls) == 3


def test_an_unreadable_cache_is_parsed_again(project, monkeypatch):
    calls = parses(monkeypatch)
    manifest.parsed(project)
    (cache,) = (project / "target").glob(f"{manifest.PARSE_CACHE_PREFIX}*.pickle")
    cache.write_bytes(cache.read_bytes()[:100])

    new_process(monkeypatch)
    again = manifest.parsed(project).manifest
    assert len(calls) == 2
    assert "model.fti.stg_flights" in again.nodes
