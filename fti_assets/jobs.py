"""Jobs over the asset graph, selected by layer, each run in one process.

The in-process executor keeps a run's DuckDB writes in one process (and is about twice as
fast here); the `duckdb_writer` pool serialises writing steps across concurrent runs.
"""

import dagster as dg

feature_selection = dg.AssetSelection.groups("ingestion", "staging", "intermediate", "features")
inference_selection = dg.AssetSelection.groups("inference", "online", "monitoring")

feature_job = dg.define_asset_job(
    "feature_job",
    selection=feature_selection,
    description="Ingest the replay days of the partition window and build the feature groups.",
    executor_def=dg.in_process_executor,
)

inference_job = dg.define_asset_job(
    "inference_job",
    selection=inference_selection,
    description="Score the window's flights with the champion, refresh the online store and the monitoring models.",
    executor_def=dg.in_process_executor,
)

daily_replay_job = dg.define_asset_job(
    "daily_replay_job",
    selection=feature_selection | inference_selection,
    description="One replay day: ingest it, build its features, score its flights, refresh the online store "
    "and monitoring.",
    executor_def=dg.in_process_executor,
)
