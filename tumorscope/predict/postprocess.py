"""Moved to :mod:`tumorscope.bundle.postprocess` (bundles carry their post-processing); this name stays
for the code that imports it from here."""

from tumorscope.bundle.postprocess import (
    PostProcess,
    count_components,
    fill_holes_per_slice,
    remove_small_components,
)

__all__ = ["PostProcess", "count_components", "fill_holes_per_slice", "remove_small_components"]
