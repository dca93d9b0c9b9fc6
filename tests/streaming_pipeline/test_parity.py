"""Online/offline parity of the intraday groups: streaming a replayed day event by event gives,
for every key at every event time of that day, the row dbt built offline for that key and time."""

import datetime as dt
import json

from fti_assets.feature_views.declared import VIEWS
from fti_assets.feature_views.online import replay_clock
from fti_assets.stateful import event_log, online_store
from fti_assets.streaming_pipeline import replay
from fti_assets.streaming_pipeline.aggregates import STREAMED_GROUPS
from fti_assets.streaming_pipeline.processor import Processor
from tests.streaming_pipeline.conftest import DAY, same


def test_every_key_at_every_event_time_of_a_day_equals_the_offline_row(day_events, tmp_path):
    events, offline = day_events
    processor = Processor(tmp_path / "events.sqlite", tmp_path / "online.sqlite")
    log, store = event_log.connect(tmp_path / "events.sqlite"), online_store.stream_writer(tmp_path / "online.sqlite")
    day_start = replay_clock(DAY - dt.timedelta(days=1))
    compared = {s.group.relation: 0 for s in STREAMED_GROUPS}
    for at, batch in replay.by_event_time(events):
        event_log.append(log, batch)
        processor.drain()
        if at < day_start:
            continue
        for streamed in STREAMED_GROUPS:
            relation = streamed.group.relation
            for entity in {streamed.entity(streamed.key(e)) for e in batch if streamed.counts(e)}:
                stored = store.execute(
                    "select event_at, vals from feature_rows where key = ?", (online_store.store_key(relation, entity),)
                ).fetchone()
                assert stored is not None, f"{relation} {entity}: no online row after {at}"
                assert event_log.from_microseconds(stored[0]) == at
                expected = offline[relation][(entity, at)]
                online = json.loads(stored[1])
                assert all(same(a, b) for a, b in zip(online, expected, strict=True)), (
                    f"{relation} {entity} at {at}: online {online} != offline {list(expected)}"
                )
                compared[relation] += 1
    processor.close()
    # Every group was compared, and at every one of its offline rows of the day.
    for streamed in STREAMED_GROUPS:
        relation = streamed.group.relation
        of_the_day = sum(1 for (_, at) in offline[relation] if day_start <= at < replay_clock(DAY))
        assert compared[relation] == of_the_day > 0, relation
    # Every column was compared with values, not only NULLs (the arrival time included).
    for streamed in STREAMED_GROUPS:
        rows = offline[streamed.group.relation].values()
        empty = [c for i, c in enumerate(streamed.group.row_columns) if all(r[i] is None for r in rows)]
        assert empty == [], streamed.group.relation


def test_every_streamed_group_of_every_view_has_its_online_definition():
    declared = {g.relation for view in VIEWS.values() for g in view.groups if g.streamed}
    assert declared == {s.group.relation for s in STREAMED_GROUPS}
