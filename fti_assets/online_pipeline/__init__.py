"""Online pipeline: the online store after each replay day -> `fti serve` -> served predictions, logged to DuckDB."""
