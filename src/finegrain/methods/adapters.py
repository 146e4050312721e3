"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2021), written here.

The maintained ``adapters`` library (1.3.0) pins ``transformers~=4.57``, so installing it would
replace transformers 5; this small module covers the two classic placements instead.

Seam: in each encoder layer the output projections ``attention.output.dense`` (Houlsby only)
and ``output.dense`` are replaced by :class:`AdaptedLinear`, i.e. ``adapter(dense(x))``. In
BERT-like layers that projection is followed by dropout and ``LayerNorm(x + residual)``, so
the adapter sits exactly where the papers put it: after the projection, before the residual
LayerNorm. The up-projection starts at zero, so the adapted model starts as the base model.

Saved folder: ``adapter.safetensors`` (adapter and head weights) and ``adapter_config.json``
(variant, reduction factor, base model name as :func:`~finegrain.methods.base.base_model_path`
gives it, head names).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import nn

from finegrain.config import Section
from finegrain.errors import ModelError, RunDirError
from finegrain.methods._common import encoder_layers, freeze_all_but, head_modules
from finegrain.methods.base import TrainedMethod, base_model_path
from finegrain.registry import METHODS
from finegrain.searchable import searchable

__all__ = ["Adapter", "AdapterParams", "AdaptedLinear", "BottleneckAdapter", "insert_adapters"]

WEIGHTS_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter_config.json"
SEAMS = {"houlsby": ("attention.output.dense", "output.dense"), "pfeiffer": ("output.dense",)}
"""Per variant, the linear layers (relative to one encoder layer) that get an adapter."""


class BottleneckAdapter(nn.Module):
    """``h + up(act(down(h)))``: a residual bottleneck that starts as the identity."""

    def __init__(self, hidden_size: int, reduction_factor: int):
        super().__init__()
        self.down = nn.Linear(hidden_size, max(1, hidden_size // reduction_factor))
        self.activation = nn.GELU()
        self.up = nn.Linear(self.down.out_features, hidden_size)
        nn.init.normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)  # identity at start: training begins from the base model
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(self.activation(self.down(hidden)))


class AdaptedLinear(nn.Module):
    """A frozen linear projection followed by a trainable bottleneck adapter."""

    def __init__(self, base: nn.Linear, reduction_factor: int):
        super().__init__()
        self.base = base
        self.adapter = BottleneckAdapter(base.out_features, reduction_factor)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base(hidden))


def insert_adapters(model: nn.Module, variant: str, reduction_factor: int) -> list[BottleneckAdapter]:
    """Wrap the variant's projections in every encoder layer; return the new adapters."""
    adapters = []
    for index, layer in enumerate(encoder_layers(model)):
        for path in SEAMS[variant]:
            parent_path, _, attribute = path.rpartition(".")
            try:
                parent = layer.get_submodule(parent_path)
            except AttributeError:
                parent = None
            linear = getattr(parent, attribute, None)
            if not isinstance(linear, nn.Linear):
                raise ModelError(
                    f"Encoder layer {index} of {type(model).__name__} has no linear '{path}' to adapt.",
                    hint="Bottleneck adapters need BERT-like layers; use 'lora' for other encoders.",
                )
            wrapped = AdaptedLinear(linear, reduction_factor).to(linear.weight.device, linear.weight.dtype)
            setattr(parent, attribute, wrapped)
            adapters.append(wrapped.adapter)
    return adapters


class AdapterParams(Section):
    variant: Literal["houlsby", "pfeiffer"] = "houlsby"  # two adapters per layer: the stronger original
    # bottleneck = hidden/16: 24 for a 384-wide MiniLM
    reduction_factor: int = Field(16, ge=1, json_schema_extra=searchable(choices=[8, 16, 32]))


@METHODS.register("adapter", aliases=("adapters", "bottleneck"))
class Adapter(TrainedMethod):
    """Train bottleneck adapters and the head; the encoder weights stay frozen."""

    name: ClassVar[str] = "adapter"
    Params: ClassVar[type[AdapterParams]] = AdapterParams
    mergeable: ClassVar[bool] = False  # the adapter's non-linearity cannot fold into the weights
    default_lr: ClassVar[float] = 3e-3  # the best of a 3-point sweep (benchmarks/lr_sweep.py)
    # NER: at 3e-3 the adapters collapsed to all-"O" on tweet-ner; at 1e-3 they learn
    # (benchmarks/methods.py --task ner; benchmarks/results/methods-ner.json)
    task_lr: ClassVar[dict[str, float]] = {"ner": 1e-3}

    def __init__(self, params: AdapterParams | None = None):
        self.params = params or AdapterParams()
        self.head_names: list[str] | None = None
        self.base_path = ""

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        heads = head_modules(model, head_names)
        adapters = insert_adapters(model, self.params.variant, self.params.reduction_factor)
        freeze_all_but(model, (p for module in [*adapters, *heads] for p in module.parameters()))
        self.head_names = list(head_names)
        self.base_path = base_model_path(model)
        return model

    def save(self, model: torch.nn.Module, directory: Path, *,
             state_dict: dict[str, torch.Tensor] | None = None) -> None:
        if self.head_names is None:
            raise ModelError("Adapter.save() needs the model returned by this method's apply().")
        directory.mkdir(parents=True, exist_ok=True)
        weights = model.state_dict() if state_dict is None else state_dict
        state = {name: tensor for name, tensor in weights.items() if self._saved(name)}
        save_file({name: t.detach().contiguous().cpu() for name, t in state.items()}, str(directory / WEIGHTS_FILE))
        record = {**self.params.model_dump(), "base_model": self.base_path, "head_names": self.head_names}
        (directory / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def _saved(self, name: str) -> bool:
        heads = self.head_names or []
        return ".adapter." in name or any(name.startswith(head + ".") for head in heads)

    def load(self, directory: Path, build_base: Callable[[str], torch.nn.Module]) -> torch.nn.Module:
        config_path = directory / CONFIG_FILE
        if not config_path.is_file():
            raise RunDirError(f"{config_path} is missing: this folder holds no bottleneck adapter.")
        record = json.loads(config_path.read_text(encoding="utf-8"))
        self.params = AdapterParams(variant=record["variant"], reduction_factor=record["reduction_factor"])
        model = self.apply(build_base(record["base_model"]), record["head_names"])
        result = model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=False)
        missing = [name for name in result.missing_keys if self._saved(name)]
        if missing or result.unexpected_keys:
            raise RunDirError(
                f"{directory / WEIGHTS_FILE} does not fit the rebuilt model: missing {missing[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}."
            )
        return model
