"""How close an attacked text stays to the original: the cosine of their sentence embeddings from the default
MiniLM (all-MiniLM-L6-v2's normalised mean pooling), an attack's similarity floor.

Example:
    >>> Similarity(0.0).scores([("a good film", "a fine film")])  # no floor: nothing loaded, always 1
    array([1.])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["Similarity"]

_MAX_LENGTH = 128  # MiniLM was trained on texts up to 128 word pieces


class Similarity:
    """Sentence similarity with the embedded MiniLM, loaded only when ``floor`` is above 0."""

    def __init__(self, floor: float, batch_size: int = 64):
        self.floor, self.batch_size = floor, batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._model = self._tokenizer = None
        if floor > 0:
            from transformers import AutoModel, AutoTokenizer

            from finegrain.methods.estimators.encoding import MeanPooler
            from finegrain.models.catalog import default_model_path

            path = str(default_model_path())
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = MeanPooler(AutoModel.from_pretrained(path), normalize=True).eval()

    def scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Cosine similarity of each (original, changed) pair; 1 for every pair without a floor."""
        if self._model is None:
            return np.ones(len(pairs))
        self._embed([text for pair in pairs for text in pair])
        return np.array([float(self._cache[a] @ self._cache[b]) for a, b in pairs])

    def _embed(self, texts: Sequence[str]) -> None:
        new = list(dict.fromkeys(text for text in texts if text not in self._cache))
        for start in range(0, len(new), self.batch_size):
            batch = new[start:start + self.batch_size]
            encoded = self._tokenizer(batch, padding=True, truncation=True, max_length=_MAX_LENGTH,
                                      return_tensors="pt")
            with torch.inference_mode():
                vectors = self._model(encoded["input_ids"], encoded["attention_mask"]).logits.numpy()
            self._cache.update(zip(batch, vectors))
