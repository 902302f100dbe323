"""Preprocessing: channel selection, intensity normalisation, resizing, enhancement, augmentation."""
