"""Inference pipeline: the champion model + the live feature view -> daily predictions."""
