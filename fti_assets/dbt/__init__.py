"""The dbt project as Dagster assets: feature groups (feature pipeline) and monitoring models."""
