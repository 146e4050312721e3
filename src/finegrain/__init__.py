"""finegrain: pretrain + fine-tune transformer encoders on fine-grained NLP tasks.

Example:
    >>> import finegrain
    >>> result = finegrain.train({"data": {"train": "bbc-news"}, "output": "runs/bbc"})  # doctest: +SKIP
    >>> finegrain.load("runs/bbc").predict(["Shares rose after the merger."])  # doctest: +SKIP
"""

from finegrain.api import evaluate, load, train
from finegrain.config import RunConfig, load_config
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
