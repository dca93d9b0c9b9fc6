"""Online materialization: each served group's latest row per entity key as of the replay clock,
from the warehouse's feature tables into the online store.

The clock is the end of the last delivered day. Feature tables can hold rows stamped after it
(a plane's outcome known after midnight): those are not known yet and are not served.
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from fti_assets.feature_views.online import ROUTES, served_groups
from fti_assets.feature_views.view import FEATURE_SCHEMA, FeatureGroupRef, FeatureView, fingerprint, fingerprint_parts
from fti_assets.stateful import online_store


@dataclasses.dataclass(frozen=True)
class Materialized:
    summary: online_store.WriteSummary
    clock: dt.datetime
    views: list[str]


def _timestamp(at: dt.datetime) -> str:
    return f"timestamp '{at.isoformat(sep=' ')}'"


def latest_rows_sql(group: FeatureGroupRef, clock: dt.datetime, spine_relation: str) -> str:
    """One row per entity key: the key, the event time in microseconds, the group's row columns."""
    keys = [k for _, k in group.join_keys]
    if group == ROUTES:
        # The schedule is known ahead of the replay: a route's latest scheduled distance, always known.
        return (
            f"select {', '.join(keys)}, 0 as event_at_us, {', '.join(group.columns)} "
            f"from {FEATURE_SCHEMA}.{spine_relation} "
            f"qualify row_number() over (partition by {', '.join(keys)} "
            "order by scheduled_dep_at desc, flight_id desc) = 1"
        )
    return (
        f"select {', '.join(keys)}, epoch_us({group.event_time}) as event_at_us, {', '.join(group.row_columns)} "
        f"from {FEATURE_SCHEMA}.{group.relation} "
        f"where {group.event_time} <= {_timestamp(clock)} and {' and '.join(f'{k} is not null' for k in keys)} "
        f"qualify row_number() over (partition by {', '.join(keys)} order by {group.event_time} desc) = 1"
    )


def latest_rows(
    connection: duckdb.DuckDBPyConnection, groups: Sequence[FeatureGroupRef], clock: dt.datetime, spine_relation: str
) -> dict[str, list[online_store.Row]]:
    """The store's rows for each group, read from the warehouse."""
    rows = {}
    for group in groups:
        width = len(group.join_keys)
        rows[group.relation] = [
            ("|".join(str(k) for k in record[:width]), record[width], online_store.encode(record[width + 1 :]))
            for record in connection.sql(latest_rows_sql(group, clock, spine_relation)).fetchall()
        ]
    return rows


def materialized_groups(views: Sequence[FeatureView]) -> list[FeatureGroupRef]:
    """The groups the views read that this materialization writes: all but the streamed ones,
    which the streaming pipeline keeps current from events (and this write leaves alone)."""
    return list({g.relation: g for view in views for g in served_groups(view) if not g.streamed}.values())


def routes_spine(views: Sequence[FeatureView]) -> str:
    """The spine the routes lookup reads: every spine carries each flight's scheduled distance
    from the same flights, so any one gives the same routes; the first by name, for stability."""
    return min(view.spine_relation for view in views)


def materialize(
    connection: duckdb.DuckDBPyConnection,
    store: Path,
    views: Sequence[FeatureView],
    manifest: Mapping,
    clock: dt.datetime,
    now: dt.datetime | None = None,
) -> Materialized:
    """Bring the store to the state at `clock` for the groups `views` read, except the streamed
    ones (one transaction, only changed keys written), recording each view's live fingerprint
    and its parts."""
    groups = materialized_groups(views)
    streamed = {g.relation for view in views for g in view.groups if g.streamed}
    rows = latest_rows(connection, groups, clock, routes_spine(views)) if views else {}
    names = {f"{view.name}_v{view.version}": view for view in views}
    meta = {
        "materialized_at": (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).isoformat(),
        "parts": {name: fingerprint_parts(view, manifest) for name, view in names.items()},
        "rows": {relation: len(r) for relation, r in rows.items()},
    }
    fingerprints = {name: fingerprint(view, manifest) for name, view in names.items()}
    summary = online_store.write(store, rows, fingerprints, clock.isoformat(), meta, keep=streamed)
    return Materialized(summary, clock, sorted(names))


def expected_counts(
    connection: duckdb.DuckDBPyConnection, groups: Sequence[FeatureGroupRef], clock: dt.datetime, spine_relation: str
) -> dict[str, int]:
    """Entity keys per group known by the clock, counted in the warehouse: what the store must hold."""
    return {
        g.relation: connection.sql(f"select count(*) from ({latest_rows_sql(g, clock, spine_relation)})").fetchall()[0][
            0
        ]
        for g in groups
    }


def stale_groups(
    store_rows_newest: Mapping[str, int], groups: Sequence[FeatureGroupRef], clock: dt.datetime
) -> list[str]:
    """Groups whose newest stored row is older than their TTL at the clock: served as NULLs."""
    at = (clock - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
    stale = []
    for group in groups:
        if group == ROUTES:
            continue
        newest = store_rows_newest.get(group.relation)
        if newest is None or newest <= at - group.ttl // dt.timedelta(microseconds=1):
            when = (
                "no rows"
                if newest is None
                else f"newest row {dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=newest)}"
            )
            stale.append(f"{group.relation}: {when}, older than its TTL {group.ttl} at the clock {clock}")
    return stale
