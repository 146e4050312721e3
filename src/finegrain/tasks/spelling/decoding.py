"""From the model's per-position candidates to corrected texts and their edits, and the acceptance threshold.

At each character the proposed correction is the masked-LM head's most probable token among its ``TOP_K`` best
that differs from the character as written, is one character (not a sub-word piece or a special token) and,
with ``confusion_only``, is in the written character's confusion set; none where the written character was
unknown to the vocabulary. It is accepted when its probability clears the threshold. Looking past the top
token matters: a small model trained mostly to copy ranks the written character first even where it is wrong,
and the right one a few places below (albert-tiny-zh on sighan15: the right character is first at 14 of 444
wrong positions, the best in its confusion set among the top 20 at 209).

Example:
    >>> best_threshold([(0.9, True), (0.6, False), (0.4, True)], gold=2)
    0.9
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from finegrain.tasks.spelling.model import TOP_K

__all__ = ["Proposal", "proposals", "estimated_proposals", "apply_edits", "best_threshold", "threshold_within"]

Proposal = dict[str, Any]  # position, original, correction, probability, detection, index (of the unit)


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def proposals(text: str, feature: dict[str, Any], logits: np.ndarray, tokens: list[str], unknown_id: int,
              allowed: Callable[[str, str], bool]) -> list[Proposal]:
    """Every proposed correction of one text, before the threshold."""
    found = []
    for position, char in enumerate(feature["chars"]):
        written = feature["input_ids"][position]
        if char is None or written == unknown_id:
            continue
        for rank in range(TOP_K):
            candidate = int(logits[position, 1 + rank])
            token = tokens[candidate] if 0 <= candidate < len(tokens) else ""
            if candidate != written and len(token) == 1 and allowed(text[char], token):
                found.append({"position": char, "original": text[char], "correction": token,
                              "probability": float(math.exp(logits[position, 1 + TOP_K + rank])),
                              "detection": _sigmoid(float(logits[position, 0])), "index": char})
                break
    return found


def estimated_proposals(text: str, logits: np.ndarray, allowed: Callable[[str, str], bool]) -> list[Proposal]:
    """The proposals of a fitted method (``char-ngram``), which answers per character ``[detection score, code
    point or -1, probability]`` instead of token ids."""
    found = []
    for position, (score, code, probability) in enumerate(logits[: len(text)]):
        correction = chr(int(code)) if code >= 0 else text[position]
        if correction != text[position] and allowed(text[position], correction):
            found.append({"position": position, "original": text[position], "correction": correction,
                          "probability": float(probability), "detection": _sigmoid(float(score)), "index": position})
    return found


def apply_edits(text: str, edits: list[Proposal]) -> str:
    """``text`` with each edit's correction in place of its original (a character, or a word of any length) at its
    position (a character offset)."""
    for edit in sorted(edits, key=lambda e: -e["position"]):
        start = edit["position"]
        text = text[:start] + edit["correction"] + text[start + len(edit["original"]):]
    return text


def threshold_within(scored: list[tuple[float, bool]], correct_units: int, limit: float) -> float | None:
    """The lowest probability threshold (so the most corrections) at which the proposals on correct units (each:
    probability, on a correct unit?) change at most ``limit`` of the ``correct_units``; None without a proposal.

    Example:
        >>> threshold_within([(0.9, False), (0.8, True), (0.7, False), (0.6, True)], correct_units=100, limit=0.01)
        0.7
    """
    if not scored or correct_units == 0:
        return None
    ranked = sorted(scored, key=lambda item: -item[0])
    changed = np.cumsum([on_correct for _, on_correct in ranked])
    within = np.flatnonzero(changed <= limit * correct_units)
    if len(within) == 0:
        return min(1.0, float(np.nextafter(ranked[0][0], 2.0)))  # even the surest proposal breaks the limit
    last = int(within[-1])
    cut = ranked[last][0]
    if last + 1 < len(ranked) and ranked[last + 1][0] == cut:  # a tie past the limit: accept none of that value
        return min(1.0, float(np.nextafter(cut, 2.0)))
    return float(cut)


def best_threshold(scored: list[tuple[float, bool]], gold: int, beta: float = 0.5) -> float | None:
    """The probability threshold with the best F-beta of the proposals (each: probability, right?) against
    ``gold`` corrections; beta 0.5 weighs precision twice as much as recall, as a corrector should.
    None without a proposal or a gold correction."""
    if not scored or gold == 0:
        return None
    ranked = sorted(scored, key=lambda item: -item[0])
    right = np.cumsum([ok for _, ok in ranked])
    precision = right / np.arange(1, len(ranked) + 1)
    recall = right / gold
    b2 = beta * beta
    denominator = b2 * precision + recall
    score = np.divide((1 + b2) * precision * recall, denominator, out=np.zeros_like(precision),
                      where=denominator > 0)
    return float(ranked[int(np.argmax(score))][0])
