"""A confusion-set + character n-gram language-model spelling corrector: our stand-in for pycorrector's kenlm
corrector (kenlm does not install here), the baseline a trained spelling model should beat.

The language model is a character trigram model with fixed interpolation weights (trigram, bigram, add-one
unigram), counted on training text. To correct, each character with confusion candidates (pronounced or
written alike, :mod:`finegrain.data.confusion_sets`) is tried against each candidate, left to right, on the
corrected text so far; the best candidate replaces it when it raises the log-probability of the trigrams
around it by more than ``margin`` (natural log), so that a rare but right character is not "corrected".

Example:
    >>> lm = CharNgram().fit(["我们去学校"] * 20 + ["他们在学校"] * 20)
    >>> lm.correct("我们去学效", {"效": "校孝"}, margin=1.0)[0]
    '我们去学校'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

__all__ = ["CharNgram", "BOUNDARY"]

BOUNDARY = "\x02"  # pads each text at both ends, so the first and last characters have contexts
_WEIGHTS = (0.6, 0.3, 0.1)  # trigram, bigram, unigram: a plain interpolation that needs no tuning data


class CharNgram:
    """Character trigram counts and the correction that reads them."""

    def __init__(self) -> None:
        self.counts: list[Counter] = [Counter(), Counter(), Counter()]  # 1-, 2-, 3-grams
        self._unigram_norm = 1.0  # characters counted + distinct characters + 1: add-one's denominator

    def fit(self, texts: list[str]) -> CharNgram:
        for text in texts:
            padded = BOUNDARY * 2 + text + BOUNDARY * 2
            for order in (1, 2, 3):
                self.counts[order - 1].update(padded[i:i + order] for i in range(len(padded) - order + 1))
        self._normalise()
        return self

    def _normalise(self) -> None:
        self._unigram_norm = sum(self.counts[0].values()) + len(self.counts[0]) + 1.0

    def state(self) -> dict[str, Any]:
        """The counts as JSON-ready dicts (saved without pickle)."""
        return {str(order): dict(counter) for order, counter in enumerate(self.counts, start=1)}

    @classmethod
    def from_state(cls, state: Mapping[str, Mapping[str, int]]) -> CharNgram:
        model = cls()
        model.counts = [Counter(state[str(order)]) for order in (1, 2, 3)]
        model._normalise()
        return model

    def _log_prob(self, context: str, char: str) -> float:
        """log P(char | the two characters before it), interpolated."""
        unigrams, bigrams, trigrams = self.counts
        uni = (unigrams[char] + 1) / self._unigram_norm
        bi = bigrams[context[-1] + char] / unigrams[context[-1]] if unigrams[context[-1]] else 0.0
        tri = trigrams[context + char] / bigrams[context] if bigrams[context] else 0.0
        return math.log(_WEIGHTS[0] * tri + _WEIGHTS[1] * bi + _WEIGHTS[2] * uni)

    def _local(self, padded: list[str], at: int) -> float:
        """Log-probability of the three trigrams that read position ``at`` of the padded text."""
        return sum(self._log_prob(padded[j - 2] + padded[j - 1], padded[j]) for j in range(at, at + 3))

    def gains(self, text: str, candidates: Mapping[str, str]) -> list[tuple[int, list[tuple[str, float]]]]:
        """Per character with candidates, each candidate's gain (the log-probability of the trigrams around it,
        less the written character's), each scored on the text as written: the edits are independent.

        Example:
            >>> lm = CharNgram().fit(["我们去学校"] * 20)
            >>> [(p, c) for p, scored in lm.gains("我们去学效", {"效": "校"}) for c, g in scored if g > 0]
            [(4, '校')]
        """
        padded = [BOUNDARY, BOUNDARY, *text, BOUNDARY, BOUNDARY]
        return [(position, self._gains_at(padded, position + 2, candidates[written]))
                for position, written in enumerate(text) if candidates.get(written)]

    def _gains_at(self, padded: list[str], at: int, candidates: str) -> list[tuple[str, float]]:
        """Each candidate's gain over what ``padded`` holds at ``at`` (left as it was)."""
        written, base, found = padded[at], self._local(padded, at), []
        for candidate in candidates:
            padded[at] = candidate
            found.append((candidate, self._local(padded, at) - base))
        padded[at] = written
        return found

    def correct(self, text: str, candidates: Mapping[str, str], margin: float
                ) -> tuple[str, list[tuple[int, str, str, float]]]:
        """The corrected text and its edits (position, written, correction, log-probability gain)."""
        padded = [BOUNDARY, BOUNDARY, *text, BOUNDARY, BOUNDARY]
        edits = []
        for position, written in enumerate(text):
            at = position + 2
            best, gain = written, margin
            for candidate, improvement in self._gains_at(padded, at, candidates.get(written, "")):
                if improvement > gain:
                    best, gain = candidate, improvement
            padded[at] = best
            if best != written:
                edits.append((position, written, best, gain))
        return "".join(padded[2:-2]), edits
