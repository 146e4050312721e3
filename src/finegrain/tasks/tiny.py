"""The words of the tiny test data: every task's ``tiny_dataset`` builds its few dozen learnable examples
from them, and the tests' tiny BERT has each one in its vocabulary (so it learns them in a few steps).

The sentiment words decide the answer (a class, an entity type); the rest is filler.

Example:
    >>> sorted(WORDS)
    ['neg', 'neu', 'pos']
"""

from __future__ import annotations

__all__ = ["WORDS", "FILLER"]

WORDS = {
    "pos": ["good", "great", "love", "excellent", "happy", "nice", "wonderful", "best"],
    "neg": ["bad", "awful", "hate", "terrible", "sad", "poor", "worst", "boring"],
    "neu": ["table", "chair", "window", "paper", "street", "monday", "blue", "number"],
}
FILLER = ["the", "a", "movie", "was", "is", "it", "this", "and", "very", "so", "food", "day"]
