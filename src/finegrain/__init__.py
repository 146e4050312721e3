"""finegrain: pretrain + fine-tune transformer encoders on fine-grained NLP tasks.

Example:
    >>> import finegrain
    >>> result = finegrain.train({"data": {"train": "bbc-news"}, "output": "runs/bbc"})  # doctest: +SKIP
    >>> finegrain.load("runs/bbc").predict(["Shares rose after the merger."])  # doctest: +SKIP
"""

from finegrain.errors import ConfigError, DataError, FinegrainError, ModelError, RunDirError, UnknownNameError

__version__ = "0.1.0"

__all__ = [
    "train",
    "evaluate",
    "load",
    "load_config",
    "RunConfig",
    "FinegrainError",
    "ConfigError",
    "DataError",
    "UnknownNameError",
    "ModelError",
    "RunDirError",
    "__version__",
]

_LAZY = {"train": "finegrain.api", "evaluate": "finegrain.api", "load": "finegrain.api",
         "load_config": "finegrain.config", "RunConfig": "finegrain.config"}


def __getattr__(name: str):
    """Import heavy modules (torch, transformers) only when their entry points are used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'finegrain' has no attribute {name!r}")
