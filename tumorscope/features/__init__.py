"""Radiomics features per image, slice or volume and ROI (pyradiomics + LBP histograms), written as one table.

``tumorscope features`` (cli.py) reads a dataset with the data layouts, makes each ROI (roi.py: expert mask,
a segmentation bundle's prediction, the foreground, the whole image), runs pyradiomics (settings.py,
radiomics_run.py) and scikit-image's LBP (lbp.py) per patient in parallel (extract.py) and writes the table
with its settings beside it (table.py). docs/features.md has the settings, the ROI rules and the speed.
"""

from tumorscope.features.extract import ROI_MODES, extract_features

__all__ = ["ROI_MODES", "extract_features"]
