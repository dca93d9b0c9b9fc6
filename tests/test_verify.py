"""`fti verify` re-checks every stored snapshot and model artifact against its recorded hash."""

import duckdb
import pytest

from fti_assets.cli import main as fti


def test_verify_passes_on_untouched_stores_and_names_what_changed(scored_copy, capsys):
    fti(["verify"])
    assert "2 of 2 match their recorded hashes" in capsys.readouterr().out

    with duckdb.connect(str(scored_copy)) as connection:
        snapshot_id, table = connection.sql("select snapshot_id, table_name from training.snapshots").fetchall()[0]
        connection.sql(f"update {table} set distance_miles = distance_miles + 1 where flight_id = (select min(flight_id) from {table})")
        artifact = connection.sql("select artifact_path from registry.model_versions where version = 1").fetchall()[0][0]
    with open(scored_copy.parent / "store" / artifact, "ab") as handle:
        handle.write(b"\0")

    with pytest.raises(SystemExit, match=r"2 stored item\(s\) changed"):
        fti(["verify"])
    out = capsys.readouterr().out
    assert f"CHANGED  snapshot {snapshot_id}: training snapshot {snapshot_id} ({table}) now hashes to" in out
    assert "CHANGED  model version 1: model artifact" in out and "the registry expects" in out
