"""The Dagster code location of the FTI flight-disruption system."""
