"""Datasets on disk: layouts that read folders into Samples, grouped splits, and inspection."""

from tumorscope.data.dataset import Dataset, detect_layout, load_dataset
from tumorscope.data.sample import Sample
from tumorscope.data.splits import Split, image_key, kfold, load_splits, make_split, save_splits, select

__all__ = [
    "Dataset",
    "Sample",
    "Split",
    "detect_layout",
    "image_key",
    "kfold",
    "load_dataset",
    "load_splits",
    "make_split",
    "save_splits",
    "select",
]
