"""The online store: incremental writes, one state per read, never blocked by a writer."""

import sqlite3
import threading

import pytest

from fti_assets.stateful import online_store


def rows(n: int, value: float) -> list[online_store.Row]:
    return [(f"K{i}", 1_000 + i, online_store.encode([value, i])) for i in range(n)]


def test_a_write_changes_only_the_keys_that_changed_and_drops_the_ones_gone(tmp_path):
    store = tmp_path / "online.sqlite"
    first = online_store.write(store, {"g_v1": rows(100, 1.0), "old_v1": rows(3, 0.0)}, {"view_v1": "f1"}, "t1", {})
    changed = rows(99, 1.0)
    changed[5] = ("K5", 2_000, online_store.encode([7.5, 5]))
    second = online_store.write(store, {"g_v1": changed}, {"view_v1": "f2"}, "t2", {"note": 1})
    assert (first.version, second.version) == (1, 2)
    assert second.written == {"g_v1": 1} and second.unchanged == {"g_v1": 98}
    assert second.deleted == {"g_v1": 1, "old_v1": 3}
    snapshot = online_store.Reader(store).read(["g_v1:K5", "g_v1:K99", "old_v1:K0"])
    assert snapshot.rows == {"g_v1:K5": (2_000, "[7.5,5]")}
    assert (snapshot.version, snapshot.clock, snapshot.fingerprints) == (2, "t2", {"view_v1": "f2"})
    assert online_store.read_state(store) == (2, {"note": 1})


def test_a_reader_is_not_blocked_by_an_open_write_and_sees_the_state_before_it(tmp_path):
    store = tmp_path / "online.sqlite"
    online_store.write(store, {"g_v1": rows(10, 1.0)}, {"v": "f"}, "t1", {})
    reader = online_store.Reader(store)
    writer = sqlite3.connect(store, isolation_level=None)
    writer.execute("begin immediate")
    writer.execute("update feature_rows set vals = '[9,9]'")
    writer.execute("update state set version = 99")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(reader.read(["g_v1:K1"])))
    thread.start()
    thread.join(timeout=5)
    writer.execute("commit")
    assert not thread.is_alive()
    assert seen[0].version == 1 and seen[0].rows["g_v1:K1"][1] == "[1.0,1]"
    assert reader.read(["g_v1:K1"]).version == 99


def test_a_failed_write_leaves_the_previous_state(tmp_path):
    store = tmp_path / "online.sqlite"
    online_store.write(store, {"g_v1": rows(10, 1.0)}, {"v": "f"}, "t1", {})
    # g_v1's new rows are written first, then h_v1's broken row fails the transaction.
    with pytest.raises(sqlite3.IntegrityError):
        online_store.write(store, {"g_v1": rows(10, 2.0), "h_v1": [("K", 1, None)]}, {"v": "g"}, "t2", {})
    snapshot = online_store.Reader(store).read([f"g_v1:K{i}" for i in range(10)])
    assert snapshot.version == 1 and {v for _, v in snapshot.rows.values()} == {online_store.encode([1.0, i]) for i in range(10)}


def test_reading_a_store_never_materialized_names_the_fix(tmp_path):
    with pytest.raises(online_store.StoreMissing, match="materialize it first"):
        online_store.Reader(tmp_path / "missing.sqlite")
