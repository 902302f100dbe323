"""SimpleITK for the modules that use it, imported only by them (0.3 s and ~110 MB resident: the CLI no longer
loads it for every command). ITK prints its warnings from C++ straight to stderr, so they show only when
debug logging is on (``tumorscope --debug``), as the CLI's other library warnings do."""

from __future__ import annotations

import logging

import SimpleITK as sitk

__all__ = ["sitk"]

sitk.ProcessObject.SetGlobalWarningDisplay(logging.getLogger().isEnabledFor(logging.DEBUG))
