"""Events delivered twice or out of order change nothing twice: the online rows end as they do
when each event arrives once, in order (which the parity test holds to the offline rows)."""

import json
import random

from fti_assets.stateful import event_log, online_store
from fti_assets.streaming_pipeline.processor import Processor
from tests.streaming_pipeline.conftest import same


def final_rows(events, folder, batch_size=5000) -> dict[str, tuple[int, list]]:
    processor = Processor(folder / "events.sqlite", folder / "online.sqlite", batch_size=batch_size)
    log = event_log.connect(folder / "events.sqlite")
    for start in range(0, len(events), 97):
        event_log.append(log, events[start : start + 97])
        processor.drain()
    processor.close()
    store = online_store.stream_writer(folder / "online.sqlite")
    return {key: (at, json.loads(vals)) for key, at, vals in store.execute("select key, event_at, vals from feature_rows")}


def assert_same_rows(online, expected):
    assert online.keys() == expected.keys()
    for key, (at, values) in expected.items():
        assert online[key][0] == at, key
        assert all(same(a, b) for a, b in zip(online[key][1], values, strict=True)), (key, online[key][1], values)


def test_shuffled_and_duplicated_events_give_the_offline_rows(day_events, tmp_path):
    events, _ = day_events
    shuffled = list(events) + random.Random(7).sample(list(events), len(events) // 3)
    random.Random(11).shuffle(shuffled)
    for name in ("in_order", "shuffled"):
        (tmp_path / name).mkdir()
    in_order = final_rows(events, tmp_path / "in_order")
    assert len(in_order) > 500
    assert_same_rows(final_rows(shuffled, tmp_path / "shuffled", batch_size=250), in_order)


def test_a_second_delivery_adds_nothing_to_the_log(day_events, tmp_path):
    events, _ = day_events
    log = event_log.connect(tmp_path / "events.sqlite")
    assert event_log.append(log, events) == len(events)
    assert event_log.append(log, list(reversed(events))) == 0
    assert event_log.last_seq(log) == len(events)
