"""Model registry: a name -> builder of a MONAI network configured for a task.

Names are imported lazily (importing the architecture modules registers their models, and loads torch), so
``tumorscope.models.names`` is read without torch: an exported variant's predict path never loads it.
"""

from typing import Any

__all__ = ["MODELS", "build_model", "describe_models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tumorscope.models import catalog, classifiers, registry  # noqa: F401 - registers the models

        return getattr(registry, name)
    raise AttributeError(name)
