"""Sources as word lists for the tagger: ``$START`` then the words of the text, each labelled on its first
sub-token with its tag's id (-100 for a tag outside the vocabulary: not learnt, rather than learnt as $KEEP);
long texts go in overlapping windows, as NER encodes them (:func:`finegrain.tasks.ner.alignment.encode_words`).

Example:
    >>> tag_vocabulary([["$KEEP", "$APPEND_the"], ["$KEEP", "$APPEND_a"], ["$APPEND_the"]], 3)
    ('$APPEND_the', '$DELETE', '$KEEP')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from finegrain.tasks.grammar.tags import DELETE, KEEP, START, derive_tags
from finegrain.tasks.ner.alignment import IGNORE_INDEX, encode_words
from finegrain.tasks.modeling import quiet_transformers
from finegrain.tasks.spelling.words import words

__all__ = ["tag_vocabulary", "pair_tags", "encode_sources", "tokens_of"]


def tokens_of(text: str) -> list[str]:
    """What the tagger reads: ``$START`` and the text's words."""
    return [START, *words(text)]


def pair_tags(sources: Sequence[str], targets: Sequence[str]) -> list[list[str]]:
    return [derive_tags(words(source), words(target)) for source, target in zip(sources, targets)]


def tag_vocabulary(tags: Sequence[Sequence[str]], size: int) -> tuple[str, ...]:
    """$KEEP, $DELETE and the most frequent other tags, ``size`` in all (ties: alphabetical), sorted."""
    counts = Counter(tag for row in tags for tag in row if tag not in (KEEP, DELETE))
    frequent = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:max(size - 2, 0)]
    return tuple(sorted({KEEP, DELETE, *(tag for tag, _ in frequent)}))


def encode_sources(tokenizer: Any, sources: Sequence[str], tags: Sequence[Sequence[str]] | None,
                   label2id: dict[str, int], max_length: int) -> list[dict[str, Any]]:
    """Windows of each source (``example``: its index), labelled when ``tags`` are given."""
    stride = max(0, min(32, (max_length - tokenizer.num_special_tokens_to_add(pair=False)) // 4))
    features = []
    with quiet_transformers():  # a long text is tokenized whole before windowing: no length warning
        for index, source in enumerate(sources):
            ids = None if tags is None else [label2id.get(tag, IGNORE_INDEX) for tag in tags[index]]
            for window in encode_words(tokenizer, tokens_of(source), ids, max_length, stride):
                window["example"] = index
                if tags is None:
                    window.pop("labels")
                features.append(window)
    return features
