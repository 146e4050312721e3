"""English spelling correction, word by word (``level: word``, NeuSpell style).

Each word's first sub-token is classified over an output vocabulary: ``$KEEP`` and the ``vocabulary_size``
most frequent (lower-cased) words of the training targets, every word that training corrects to among them
first. A word is labelled with its corrected form when that is in the vocabulary (a correct word with
itself, so the model learns every vocabulary word from its correct spellings too, and can map a misspelling
it never saw onto it), with ``$KEEP`` when it is correct but outside the vocabulary, and not at all when its
correction is outside the vocabulary. A misspelling that splits into several sub-tokens is still one
decision. A proposal is the top word when it differs from the written one (case aside); it keeps the case
pattern of the written word, so an uncased model never fixes case.

At evaluation the classifier answers only its ``TOP_K`` best labels per position (ids, then log-probabilities):
the full distribution over 10,000 words for 1,000 sentences of 40 tokens would be 1.6 GB of floats.

Example:
    >>> vocabulary(["The cat sat", "the cat"], ["Teh cat sat", "the cat"], size=2)
    ['$KEEP', 'the', 'cat']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from finegrain.data.labels import LabelMap
from finegrain.tasks.modeling import build_pretrained
from finegrain.tasks.spelling.encoding import IGNORE_INDEX
from finegrain.tasks.spelling.words import is_word, with_case, word_spans, words

__all__ = ["KEEP", "TopKLinear", "vocabulary", "build_word_model", "encode_words", "word_proposals",
           "estimated_word_proposals", "edit_kind"]

KEEP = "$KEEP"
TOP_K = 20  # labels kept per position at evaluation: enough for candidates (symspell's) to rerank


class TopKLinear(nn.Linear):
    """The classifier: a linear layer (same weights and state-dict keys, so checkpoints stay standard) whose
    evaluation output is ``[top-k ids, top-k log-probabilities]`` per position instead of every logit."""

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = super().forward(hidden)
        if self.training or logits.shape[-1] <= TOP_K:
            return logits
        top = torch.log_softmax(logits.float(), dim=-1).topk(TOP_K, dim=-1)
        return torch.cat([top.indices.float(), top.values], dim=-1)


def vocabulary(targets: list[str], sources: list[str] | None, size: int) -> list[str]:
    """``$KEEP``, then the words training corrects to (most frequent first), then the most frequent target words,
    ``size`` words in all."""
    counts = Counter(w.lower() for text in targets for w in words(text) if is_word(w))
    corrected: Counter = Counter()
    for source, target in zip(sources or [], targets):
        written, wanted = words(source), words(target)
        if len(written) == len(wanted):
            corrected.update(t.lower() for s, t in zip(written, wanted) if s.lower() != t.lower() and is_word(t))
    chosen = [w for w, _ in corrected.most_common(size)]
    chosen += [w for w, _ in counts.most_common() if w not in corrected][: size - len(chosen)]
    return [KEEP, *chosen]


def build_word_model(model_path: str, labels: LabelMap, *, random_init: bool = False) -> nn.Module:
    """A token-classification model over the output vocabulary, its classifier a :class:`TopKLinear`."""
    model = build_pretrained("token", model_path, labels, random_init=random_init)
    linear = model.classifier
    head = TopKLinear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    head.load_state_dict(linear.state_dict())
    model.classifier = head
    return model


def encode_words(tokenizer: Any, sources: list[str], targets: list[str] | None, trainable: list[bool] | None,
                 labels: LabelMap, max_length: int) -> list[dict[str, Any]]:
    """Features of the sources: ``input_ids``, ``first`` (the word index at each word's first sub-token, else None)
    and, for trainable pairs, ``labels`` at first sub-tokens. Words past ``max_length`` are left as written."""
    split_words = [words(text) for text in sources]
    encoded = tokenizer(split_words, is_split_into_words=True, truncation=True, max_length=max_length)
    index = labels.label2id
    keep = index[KEEP]
    features = []
    for row, written in enumerate(split_words):
        word_ids = encoded.word_ids(row)
        first = [w if w is not None and (p == 0 or word_ids[p - 1] != w) else None for p, w in enumerate(word_ids)]
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][row], "first": first, "example": row}
        if targets is not None:
            wanted = words(targets[row])
            usable = (trainable is None or trainable[row]) and len(wanted) == len(written)
            feature["labels"] = [IGNORE_INDEX] * len(first)
            if usable:
                for position, word in enumerate(first):
                    if word is None:
                        continue
                    target = wanted[word].lower()
                    if target in index:
                        feature["labels"][position] = index[target]
                    elif target == written[word].lower():
                        feature["labels"][position] = keep
        features.append(feature)
    return features


def _best(row: np.ndarray, names: list[str], written: str,
          candidates: Callable[[str], frozenset[str]] | None) -> tuple[str, float]:
    """The best label of one position and its probability. Without ``candidates``: the top one. With them (the
    dictionary's words within two edits; the written word among them when the dictionary knows it): for a known
    word, the best of ``$KEEP``, the word itself and its candidates; for an unknown word, which the dictionary
    says is wrong, the best of its candidates, however likely the model finds ``$KEEP`` (a word the model never
    saw misspelled looks right to it). None of them among the kept labels: ``$KEEP``, probability 0."""
    k = len(row) // 2
    allowed = candidates(written) if candidates is not None else None
    known = allowed is None or written.lower() in allowed
    for rank in range(k):
        label = int(row[rank])
        name = names[label] if 0 <= label < len(names) else KEEP
        keeps = name == KEEP or name == written.lower()
        if allowed is None or (keeps and known) or (not keeps and name in allowed):
            return name, float(math.exp(row[k + rank]))
    return KEEP, 0.0


def word_proposals(text: str, feature: dict[str, Any], logits: np.ndarray, names: list[str],
                   candidates: Callable[[str], frozenset[str]] | None = None) -> list[dict[str, Any]]:
    """The proposed corrections of one text (before the threshold): each word whose best label (see :func:`_best`)
    is another word."""
    spans = word_spans(text)
    found = []
    for position, word in enumerate(feature["first"]):
        if word is None or word >= len(spans) or not is_word(spans[word].text):
            continue
        span = spans[word]
        proposed, probability = _best(logits[position], names, span.text, candidates)
        if proposed == KEEP or proposed == span.text.lower():
            continue
        found.append({"position": span.start, "original": span.text, "correction": with_case(span.text, proposed),
                      "probability": probability, "index": word})
    return found


def estimated_word_proposals(text: str, answers: np.ndarray) -> list[dict[str, Any]]:
    """The proposals of a fitted word-level method, which answers per word ``[score, correction or "", probability]``
    (a row whose correction is not a non-empty string proposes nothing)."""
    found = []
    for index, span in enumerate(word_spans(text)):
        if index >= len(answers):
            break
        _, correction, probability = answers[index]
        if isinstance(correction, str) and correction and correction != span.text:
            found.append({"position": span.start, "original": span.text, "correction": correction,
                          "probability": float(probability), "index": index})
    return found


def _distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def edit_kind(original: str, correction: str) -> str:
    """How far a word is from its correction, the English error analysis's confusion type.

    Example:
        >>> edit_kind("beleive", "believe"), edit_kind("teh", "the"), edit_kind("cat", "dog")
        ('1 edit', '1 edit', '3+ edits')
    """
    distance = _distance(original.lower(), correction.lower())
    return "case only" if distance == 0 else "1 edit" if distance == 1 else "2 edits" if distance == 2 else "3+ edits"
