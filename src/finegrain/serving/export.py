"""Export a finished run as a merged Hugging Face model, ONNX or int8 ONNX, checked for parity.

Every export holds what serving needs beside the weights: ``config.yaml`` (the run's resolved
config), ``labels.json``, the tokenizer and ``export.json`` (format, source run); and
``parity.json``: the export is loaded back exactly as ``finegrain serve`` loads it and compared
with the run (fp32) on the run's validation data: max abs logit difference, label agreement and
the task's quality metric before/after.

Example:
    >>> from finegrain.serving import export_run, load_export
    >>> report = export_run("runs/reviews-lora", "onnx-int8")  # doctest: +SKIP
    >>> report["metric_before"] - report["metric_after"] <= 0.01  # doctest: +SKIP
    True
    >>> load_export("runs/reviews-lora/exports/onnx-int8").predict(["great film"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from finegrain.config import load_config
from finegrain.data.labels import LabelMap
from finegrain.errors import ConfigError, RunDirError
from finegrain.serving.merge import load_for_merge, merged_model, parity_report, parity_split
from finegrain.serving.onnx_export import ONNX_FILE, OnnxBackend, write_onnx
from finegrain.tasks.modeling import quiet_transformers
from finegrain.tasks.objective import MODEL_INPUTS
from finegrain.training.logits_source import BackendLogits, LogitsSource, ModelLogits, TaskEncoding
from finegrain.training.precision import autocast_dtype, resolve_precision
from finegrain.training.predictor import Precision, Predictor, load_predictor
from finegrain.training.run_dir import RunDir
from finegrain.training.setup import build_task, load_tokenizer

__all__ = ["export_run", "merge_run", "load_export", "open_predictor", "is_export", "FORMATS", "TOLERANCE",
           "PARITY_FILE", "EXPORT_FILE"]

FORMATS = ("hf", "onnx", "onnx-int8")
PARITY_FILE = "parity.json"
EXPORT_FILE = "export.json"
TOLERANCE = {  # what "within tolerance" means per format; reported, never silently enforced
    "hf": {"max_abs_logit_diff": 1e-4, "metric_drop": 0.0},
    "onnx": {"max_abs_logit_diff": 1e-3, "metric_drop": 0.0},
    "onnx-int8": {"max_abs_logit_diff": None, "metric_drop": 0.01},  # int8 moves logits; 1 point of quality at most
}


def export_run(run_dir: str | Path, fmt: str = "hf", out_dir: str | Path | None = None, *,
               base: str | None = None) -> dict[str, Any]:
    """Export the run at ``run_dir`` in format ``fmt`` to ``out_dir`` (default ``RUN/exports/FMT``);
    return (and write) the parity report. ``base``: the run's base model, where the run no longer finds it."""
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format '{fmt}'.", hint=f"Choose one of: {', '.join(FORMATS)}.")
    source, method, weights = load_for_merge(run_dir, base=base)
    out = Path(out_dir) if out_dir is not None else source.run.path / "exports" / fmt
    _prepare_out(out)
    split = parity_split(source)
    features, before = source.logits(split)
    model, merged = merged_model(method, weights.model)
    with quiet_transformers():
        weights.encoding.tokenizer.save_pretrained(out)
        if fmt == "hf":
            model.save_pretrained(out)
        else:
            inputs = tuple(name for name in MODEL_INPUTS if name in weights.encoding.collate(features[:1]))
            write_onnx(model, out / ONNX_FILE, quantize=fmt == "onnx-int8", inputs=inputs)
    shutil.copyfile(source.run.config, out / "config.yaml")
    shutil.copyfile(source.run.labels, out / "labels.json")
    info = {"format": fmt, "run": str(source.run.path), "method": source.config.method.name, "merged": merged}
    (out / EXPORT_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    exported = load_export(out, device="cpu", precision="fp32")  # serving may use bf16 where the CPU is fast at it
    _, after = exported.logits(split)
    report = {**info, "output": str(out), "split": split.name,
              **parity_report(source.task, split, features, source.labels, before, after)}
    report["tolerance"] = TOLERANCE[fmt]
    report["within_tolerance"] = _within(report, TOLERANCE[fmt])
    (out / PARITY_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def merge_run(run_dir: str | Path, out_dir: str | Path, *, base: str | None = None) -> dict[str, Any]:
    """A merged plain Hugging Face model in ``out_dir`` (``export_run`` with format ``hf``)."""
    return export_run(run_dir, "hf", out_dir, base=base)


def is_export(path: str | Path) -> bool:
    return (Path(path) / EXPORT_FILE).is_file()


def load_export(path: str | Path, device: str | None = None, threads: int | None = None, *,
                precision: Precision | None = None) -> Predictor:
    """A predictor over an export folder: the same encode/decode as the run, PyTorch or onnxruntime below.
    ``precision`` replaces the run's ``train.precision`` for a PyTorch export (ONNX runs in fp32 or int8)."""
    folder = Path(path)
    if not is_export(folder):
        raise RunDirError(f"'{folder}' is not a finegrain export (no {EXPORT_FILE}).",
                          hint="Make one with: finegrain export RUN --format hf|onnx|onnx-int8 --out DIR")
    fmt = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))["format"]
    config = load_config(folder / "config.yaml", saved=True)
    task, labels = build_task(config), LabelMap.load(folder / "labels.json")
    encoding = TaskEncoding(task, labels, load_tokenizer(str(folder), config.model.max_length), config.model.max_length)
    if fmt == "hf":
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        with quiet_transformers():
            model = task.build_model(str(folder), labels).to(target).eval()
        dtype = autocast_dtype(resolve_precision(precision or config.train.precision, target.type))
        source: LogitsSource = ModelLogits(encoding, model, target, dtype)
    else:
        source = BackendLogits(encoding, OnnxBackend(folder / ONNX_FILE, threads=threads), runtime="onnxruntime")
    return Predictor(RunDir(folder), config, task, labels, source)


def open_predictor(path: str | Path, device: str | None = None, *, base: str | None = None) -> Predictor:
    """A run directory or an export folder, whichever ``path`` is; ``base`` is for a run whose base model
    moved (an export holds its whole model)."""
    return load_export(path, device) if is_export(path) else load_predictor(path, device, base=base)


def _prepare_out(out: Path) -> None:
    """An empty or new folder, or an earlier export (replaced); never a folder of other files."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"The export output '{out}' is a file.", hint="Choose a folder with --out.")
    if out.is_dir() and any(out.iterdir()):
        if not is_export(out):
            raise RunDirError(f"'{out}' holds files that are not a finegrain export; refusing to write there.",
                              hint="Choose an empty or new folder with --out.")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _within(report: dict[str, Any], tolerance: dict[str, Any]) -> bool:
    limit = tolerance["max_abs_logit_diff"]
    close = limit is None or report["max_abs_logit_diff"] <= limit
    return close and report["metric_before"] - report["metric_after"] <= tolerance["metric_drop"] + 1e-9
