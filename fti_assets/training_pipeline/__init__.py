"""Training pipeline: point-in-time snapshots, model fitting and evaluation, promotion."""
