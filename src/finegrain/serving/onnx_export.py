"""ONNX export of a plain (merged) model, dynamic int8 quantisation, and an onnxruntime backend.

The model is traced with PyTorch's TorchScript exporter (``dynamo=False``: the dynamo exporter
needs onnxscript, and the traced graph is what onnxruntime's quantiser handles best). Inputs are
``input_ids`` and ``attention_mask`` with dynamic batch and sequence axes; the output is
``logits``. onnx and onnxruntime are imported only here, only when used.
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


def write_onnx(model: torch.nn.Module, path: Path, *, quantize: bool) -> None:
    """Export ``model`` (fp32, eval) to ``path``; with ``quantize``, int8 weights (dynamic quantisation)."""
    model = model.float().eval()
    # A padded second row: the trace must keep the attention-mask path that padded batches need.
    input_ids = torch.full((2, 8), 5, dtype=torch.long)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 5:] = 0
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "fp32.onnx" if quantize else path
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes
            torch.onnx.export(
                model, (input_ids, attention_mask), str(target), input_names=["input_ids", "attention_mask"],
                output_names=["logits"], opset_version=OPSET, dynamo=False,
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                              "logits": {0: "batch"} | ({1: "sequence"} if _token_level(model) else {})},
            )
        if quantize:
            _quantize(target, path)


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

    def __call__(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        feed = {name: inputs[name].numpy().astype(np.int64) for name in ("input_ids", "attention_mask")}
        return self.session.run(["logits"], feed)[0].astype(np.float32)
