"""Model registry: a name -> builder of a MONAI network configured for a task."""

from tumorscope.models.registry import MODELS, build_model, describe_models

__all__ = ["MODELS", "build_model", "describe_models"]
