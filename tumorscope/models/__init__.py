"""Model registry: a name -> builder of a MONAI network configured for a task."""

# Importing the architecture modules registers their models (the registry itself imports none of them).
from tumorscope.models import catalog, classifiers  # noqa: F401
from tumorscope.models.registry import MODELS, build_model, describe_models

__all__ = ["MODELS", "build_model", "describe_models"]
