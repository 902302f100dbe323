"""Old home of segmentation prediction, split by role: running the model is
:mod:`tumorscope.predict.segmentation`, writing the results :mod:`tumorscope.predict.outputs`, drawing
:mod:`tumorscope.predict.overlay`. These names stay for the code that imports them from here."""

from tumorscope.predict.outputs import modality_warnings, write_segmentation
from tumorscope.predict.overlay import display_channel
from tumorscope.predict.segmentation import segment

__all__ = ["display_channel", "modality_warnings", "segment", "write_segmentation"]
