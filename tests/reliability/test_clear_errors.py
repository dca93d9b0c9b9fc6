"""At the edges (no warehouse, a wrong path, no manifest, no champion) the user reads one
message that says what to run, never a traceback from DuckDB or dbt."""

import shutil

import dagster as dg
import pytest

from fti_assets import cli, manifest, settings, summary
from fti_assets.runner import failure_messages, run_once, run_window
from fti_assets.stateful.warehouse import WarehousePathError, connect
from tests.conftest import DAY, TRAINING_RUN


def test_missing_warehouse_says_build_it(isolated_env):
    with pytest.raises(FileNotFoundError, match=r"No warehouse at .*`fti main`"):
        summary.render()


def test_training_without_features_says_run_the_feature_job(isolated_env):
    result = run_once("training_job", dg.DagsterInstance.ephemeral(), TRAINING_RUN)
    assert not result.success
    (message,) = failure_messages(result)
    assert "does not exist" in message and "run the feature_job first" in message


def test_warehouse_path_that_is_a_directory_stops_fti_main_with_one_message(isolated_env, monkeypatch):
    folder = isolated_env / "a_folder"
    folder.mkdir()
    monkeypatch.setenv("FTI_WAREHOUSE", str(folder))
    with pytest.raises(SystemExit) as stopped:
        cli.main(["main", "--start", "2013-01-01", "--end", "2013-01-02", "--cutoff", "2013-01-01",
                  "--scoring-start", "2013-01-02"])
    message = str(stopped.value.code)
    assert message.count("is a directory") == 1, message
    assert "set FTI_WAREHOUSE to a file" in message and "Traceback" not in message


def test_warehouse_path_under_a_file_names_the_fix(tmp_path):
    (tmp_path / "not_a_folder").write_text("")
    with pytest.raises(WarehousePathError, match="Cannot create the warehouse folder .* set FTI_WAREHOUSE"):
        with connect(tmp_path / "not_a_folder" / "warehouse.duckdb"):
            pass


def test_a_memory_limit_duckdb_cannot_read_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="FTI_DUCKDB_MEMORY_LIMIT='lots' is not a memory limit"):
        with connect(tmp_path / "w.duckdb"):
            pass
    monkeypatch.setenv("FTI_DUCKDB_MEMORY_LIMIT", "1GB")
    with connect(tmp_path / "w.duckdb") as connection:
        assert connection.sql("select current_setting('memory_limit')").fetchall() == [("953.6 MiB",)]


def test_an_unbuilt_manifest_that_cannot_be_built_says_what_to_run(tmp_path):
    """A missing manifest is parsed when it is first needed (fti_assets/manifest.py); when that
    fails, the message says which command shows why. (The successful parse runs in every test run.)"""
    project = tmp_path / "dbt_project"
    shutil.copytree(settings.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "models" / "staging" / "_broken.yml").write_text("version: 2\nmodels: [{name: stg_flights, columns: 7}]\n")
    with pytest.raises(RuntimeError, match=r"`dbt parse` failed in .*run it there"):
        manifest.ensure(project)


def test_scoring_with_an_empty_registry_says_train_first(built, tmp_path, monkeypatch):
    root, env = built
    shutil.copy(root / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FTI_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("FTI_MODEL_STORE", str(tmp_path / "store"))

    result = run_window("inference_job", DAY, DAY, dg.DagsterInstance.ephemeral())

    assert not result.success
    (message,) = failure_messages(result)
    assert "no champion in the registry" in message and "run the training_job" in message
    assert "No model has been trained or scored yet: run `fti main`" in summary.render()
