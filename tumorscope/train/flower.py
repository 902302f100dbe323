"""Flower (``flwr``), the optional federated-learning library, imported on use with a clear hint when absent."""

from __future__ import annotations

from typing import Any

from tumorscope.errors import TumorscopeError

INSTALL_HINT = ("federated training needs Flower, which is kept out of the main environment (it pins its own "
                "FastAPI/Ray/protobuf): run `make fl-env` and use `.venv-fl/bin/tumorscope federated ...` "
                "(or `pip install 'tumorscope[federated]'` in a virtual environment of its own)")


def require_flwr() -> Any:
    """The ``flwr`` package, or a one-line error saying how to install it."""
    try:
        import flwr
    except ModuleNotFoundError as exc:
        if exc.name != "flwr":
            raise
        raise TumorscopeError(INSTALL_HINT) from None
    return flwr
