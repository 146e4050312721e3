"""Grammatical error correction (experimental): GECToR-style edit tags per word, applied iteratively."""

from finegrain.tasks.grammar.task import GrammarParams, GrammarTask

__all__ = ["GrammarTask", "GrammarParams"]
