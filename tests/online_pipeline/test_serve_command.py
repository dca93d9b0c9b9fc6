"""`fti serve` without what it needs stops with the step to run, not a traceback."""

import pytest

from fti_assets.cli import main


def test_serve_without_an_online_store_names_the_asset_to_materialize(isolated_env):
    with pytest.raises(SystemExit) as stopped:
        main(["serve"])
    assert "no online store at" in str(stopped.value) and "online/online_features" in str(stopped.value)
