"""Constants stated once: the Python side and dbt's vars agree."""

import yaml

from fti_assets import constants, settings


def test_the_time_zone_is_dbts():
    project = yaml.safe_load((settings.DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["local_timezone"] == constants.LOCAL_TIMEZONE
