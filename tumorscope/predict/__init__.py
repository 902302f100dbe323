"""Prediction with a bundle: segmentation masks and classification labels for any supported input."""
