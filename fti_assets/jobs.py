"""Jobs over the asset graph, selected by layer, run in one process per run.

The in-process executor keeps a run's DuckDB writes in one process (and is about twice as
fast here); the `duckdb_writer` pool serialises writing steps across concurrent runs.
"""

import dagster as dg

feature_selection = dg.AssetSelection.groups("ingestion", "staging", "intermediate", "features")

feature_job = dg.define_asset_job(
    "feature_job",
    selection=feature_selection,
    description="Ingest the replay days of the partition window and build the feature groups.",
    executor_def=dg.in_process_executor,
)
