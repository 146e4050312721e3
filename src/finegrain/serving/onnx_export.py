"""ONNX export of a plain (merged) model, dynamic int8 quantisation, and an onnxruntime backend.

The model is traced with PyTorch's TorchScript exporter (``dynamo=False``: the dynamo exporter
needs onnxscript, and the traced graph is what onnxruntime's quantiser handles best). Inputs are
``input_ids`` and ``attention_mask``, plus ``token_type_ids`` where the task's batches hold them
(sentence pairs), with dynamic batch and sequence axes; the output is ``logits``. onnx and
onnxruntime are imported only here, only when used.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["write_onnx", "OnnxBackend", "ONNX_FILE", "OPSET"]

ONNX_FILE = "model.onnx"
OPSET = 17  # LayerNormalization is a single op from 17 on: fewer nodes, same numbers


def write_onnx(model: torch.nn.Module, path: Path, *, quantize: bool,
               inputs: tuple[str, ...] = ("input_ids", "attention_mask")) -> None:
    """Export ``model`` (fp32, eval) to ``path``, taking the named ``inputs`` (those of the task's batches);
    with ``quantize``, int8 weights (dynamic quantisation)."""
    model = model.float().eval()
    # A padded second row: the trace must keep the attention-mask path that padded batches need.
    input_ids = torch.full((2, 8), 5, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 3:] = 1  # a second segment, as a pair's second text has
    example = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "fp32.onnx" if quantize else path
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes
            torch.onnx.export(
                _NamedInputs(model, inputs), tuple(example[name] for name in inputs), str(target),
                input_names=list(inputs), output_names=["logits"], opset_version=OPSET, dynamo=False,
                dynamic_axes=axes | {"logits": {0: "batch"} | ({1: "sequence"} if _token_level(model) else {})},
            )
        if quantize:
            _quantize(target, path)


class _NamedInputs(torch.nn.Module):
    """The model called with its inputs by name (the trace takes them in order), answering its logits."""

    def __init__(self, model: torch.nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors))).logits


def _token_level(model: torch.nn.Module) -> bool:
    return type(model).__name__.endswith("ForTokenClassification")


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" is advice for static quantisation
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


class OnnxBackend:
    """A :data:`~finegrain.training.inference.LogitsBackend` over an onnxruntime CPU session.

    Example:
        >>> backend = OnnxBackend("exports/reviews-onnx/model.onnx")  # doctest: +SKIP
        >>> backend({"input_ids": ids, "attention_mask": mask}).shape  # doctest: +SKIP
        (2, 3)
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime picks (one per physical core)
        options.log_severity_level = 3  # errors only
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [node.name for node in self.session.get_inputs()]  # token_type_ids too for pairs

    def __call__(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        feed = {name: inputs[name].numpy().astype(np.int64) for name in self.inputs}
        return self.session.run(["logits"], feed)[0].astype(np.float32)
