"""The stateful layer that joins the pipelines: the DuckDB warehouse and the model registry."""
