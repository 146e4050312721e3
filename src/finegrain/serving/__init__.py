"""Serving: turn a finished run into artefacts other tools load (merged plain models, ONNX, int8 ONNX)
and serve runs or exports over HTTP (``finegrain.serving.app``, imported only when serving)."""

from finegrain.serving.export import FORMATS, export_run, load_export, merge_run, open_predictor

__all__ = ["merge_run", "export_run", "load_export", "open_predictor", "FORMATS"]
