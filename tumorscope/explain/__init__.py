"""Explanations that are measured: heatmaps (Grad-CAM, Grad-CAM++, saliency, integrated gradients,
occlusion), their faithfulness against tumor masks, and feature importance for tabular models."""
