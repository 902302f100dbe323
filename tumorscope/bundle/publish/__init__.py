"""Publishing zoo models (``tumorscope models publish``): the bundle, its headline metrics and its model card,
rendered from templates with the exact commands printed from the runs' saved options.

Names are imported lazily so ``tumorscope --help`` does not load torch or Jinja2.
"""

from importlib import import_module
from typing import Any

_WHERE = {"model_card": "card", "publish": "write", "RECIPES": "recipes", "extra_section": "sections",
          "two_core_minutes": "sections", "publish_segmentation": "segmentation"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"tumorscope.bundle.publish.{_WHERE[name]}"), name)
    raise AttributeError(name)
