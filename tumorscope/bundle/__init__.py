"""The model bundle: weights + preprocessing + post-processing + metadata + model card.

Names are imported lazily so ``tumorscope --help`` does not load torch.
"""

from typing import Any

__all__ = ["Bundle", "load_bundle", "save_bundle", "zoo_models"]

WEIGHT_DTYPES = ("float32", "float16", "int8")  # how a bundle may store its weights (bundle.weights.encode_weights)


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tumorscope.bundle import bundle

        return getattr(bundle, name)
    raise AttributeError(name)
