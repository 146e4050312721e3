"""Serving: turn a finished run into artefacts other tools load (merged plain models, ...)."""

from finegrain.serving.merge import merge_run

__all__ = ["merge_run"]
