"""Online pipeline assets: the online store after each replay day, and served predictions into DuckDB.

A room of its own: it reads the feature tables and the registry (through feature_views and
stateful, like the other pipelines) and feeds a long-running service rather than a table, so
neither the feature nor the inference pipeline has to know it exists.
"""


import dagster as dg

from fti_assets import code_version, settings
from fti_assets.feature_views.declared import VIEWS
from fti_assets.partitions import partition_dates, replay_days
from fti_assets.resources import WAREHOUSE_POOL, WarehouseResource

ONLINE_FEATURES = dg.AssetKey(["online", "online_features"])
ROWS_CHECK = "check_online_rows_match_features"
FRESHNESS_CHECK = "check_online_features_fresh"
LIVE_ALIASES = ("champion", "challenger", "intraday_champion", "intraday_challenger")

FEATURE_KEYS = list(
    dict.fromkeys(
        dg.AssetKey(["features", r])
        for view in VIEWS.values()
        for r in (view.spine_relation, *(g.relation for g in view.groups))
    )
)


@dg.asset(
    key=ONLINE_FEATURES,
    group_name="online",
    partitions_def=replay_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[*FEATURE_KEYS, dg.AssetKey("champion_promotion")],
    code_version=code_version.of_modules(
        "online_pipeline/materialize.py", "stateful/online_store.py", "feature_views/declared.py",
    ),
    check_specs=[
        dg.AssetCheckSpec(
            ROWS_CHECK,
            asset=ONLINE_FEATURES,
            description="Each served group holds one row per entity key known by the clock in the warehouse.",
        ),
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=ONLINE_FEATURES,
            description="Each served group's newest row is within its TTL at the clock (else it serves NULLs).",
        ),
    ],
)
def online_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """One row per entity key per group a live model reads: its latest as of the end of the partition's last day."""
    from fti_assets import manifest
    from fti_assets.feature_views.declared import view_named
    from fti_assets.feature_views.online import replay_clock
    from fti_assets.online_pipeline import materialize
    from fti_assets.stateful import online_store, registry

    _, end = partition_dates(context)
    clock = replay_clock(end)
    store = settings.online_store_path()
    with warehouse.connect(read_only=True) as connection:
        versions = {registry.current_alias_version(connection, alias) for alias in LIVE_ALIASES} - {None}
        if not versions:
            # The words batch_predictions uses: a run without a model reports one problem, once.
            raise dg.Failure("no champion in the registry: run the training_job first")
        rows = [registry.get_version(connection, v) for v in sorted(versions)]
        views = list(
            {
                f"{r.feature_view}_v{r.feature_view_version}": view_named(f"{r.feature_view}_v{r.feature_view_version}")
                for r in rows
            }.values()
        )
        done = materialize.materialize(connection, store, views, manifest.load(), clock)
        groups = materialize.materialized_groups(views)
        expected = materialize.expected_counts(connection, groups, clock, materialize.routes_spine(views))
    stats = online_store.relation_stats(store)
    stored = {relation: stats.get(relation, (0, None))[0] for relation in expected}
    wrong = [f"{r}: {stored[r]} stored, {n} in the warehouse" for r, n in expected.items() if stored[r] != n]
    stale = materialize.stale_groups({r: s[1] for r, s in stats.items()}, groups, clock)
    summary = done.summary
    yield dg.MaterializeResult(
        metadata={
            "store": str(store),
            "state_version": summary.version,
            "clock": str(clock),
            "views": ", ".join(done.views),
            "model_versions": ", ".join(map(str, sorted(versions))),
            "dagster/row_count": sum(stored.values()),
            "written": dg.MetadataValue.json(summary.written),
            "deleted": dg.MetadataValue.json(summary.deleted),
            "unchanged": dg.MetadataValue.json(summary.unchanged),
        }
    )
    yield dg.AssetCheckResult(
        check_name=ROWS_CHECK,
        passed=not wrong,
        description="; ".join(wrong) or f"{sum(stored.values())} rows in {len(stored)} relations, as in the warehouse",
        metadata={"rows": dg.MetadataValue.json(stored)},
    )
    yield dg.AssetCheckResult(
        check_name=FRESHNESS_CHECK,
        passed=not stale,
        description="; ".join(stale) or f"every group has a row within its TTL at {clock}",
    )


@dg.asset(
    key=dg.AssetKey(["inference", "online_predictions"]),
    group_name="online",
    pool=WAREHOUSE_POOL,
    code_version=code_version.of_modules("online_pipeline/prediction_log.py"),
)
def online_predictions(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """One row per prediction served online (request, vector, model version, fingerprint, latency), from its log."""
    from fti_assets.online_pipeline import prediction_log

    folder = settings.prediction_log_dir()
    with warehouse.connect() as connection:
        loaded = prediction_log.load(connection, folder)
        total = connection.sql(f"select count(*) from {prediction_log.TABLE}").fetchall()[0][0]
    return dg.MaterializeResult(
        metadata={
            "log": str(folder),
            "loaded": sum(loaded.values()),
            "files": dg.MetadataValue.json(loaded),
            "dagster/row_count": total,
        }
    )


online_assets = [online_features, online_predictions]
