"""Moved to :mod:`tumorscope.predict.overlay` (predict draws its overlays; lower stages may not import
report/); this name stays for the code that imports it from here."""

from tumorscope.predict.overlay import heat_overlay, overlay, save_rgb, to_display

__all__ = ["heat_overlay", "overlay", "save_rgb", "to_display"]
