"""Training: a generic loop (checkpoints, resume, early stopping, time limit) and one module per task."""
