"""Evaluation: metrics with bootstrap confidence intervals, per patient, per fold."""
