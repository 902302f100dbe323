"""Reading and writing images and masks: DICOM, NIfTI, PNG, JPEG, TIFF, BMP.

Everything comes back as an :class:`Image` (channels-last pixels plus ITK geometry) or, for masks,
a boolean array. Every user-caused problem (missing, empty, damaged or unsupported file, a mask
of the wrong size) is a :class:`~tumorscope.errors.TumorscopeError` naming the file.
Headers are checked before any pixel is decoded (declared sizes against the bytes present and the
limits of :mod:`tumorscope.limits`, geometry, value syntax); see docs/reliability.md.
"""

from tumorscope.io.convert import binarize, stack_slices, to_gray, to_rgb
from tumorscope.io.image import Image
from tumorscope.io.mask import mask_is_empty, read_mask
from tumorscope.io.reader import probe_image, read_image
from tumorscope.io.writers import write_image, write_mask

__all__ = [
    "Image",
    "binarize",
    "mask_is_empty",
    "probe_image",
    "read_image",
    "read_mask",
    "stack_slices",
    "to_gray",
    "to_rgb",
    "write_image",
    "write_mask",
]
