"""One character, one token: how Chinese spelling correction reads text, whatever the tokenizer would do.

Each character of the text is tokenized on its own (``is_split_into_words``); a character that gives one
piece keeps it, one that gives several (or is unknown) becomes ``[UNK]``, and whitespace gives none and
is skipped. ``chars`` keeps, for every position, the index of its character in the text, so decoding puts
each correction back at its character offset and leaves everything else exactly as written.

A feature holds ``input_ids`` ([CLS] chars [SEP]), ``chars`` (character index per position, None for the
special tokens) and, for a training pair of equal length, ``labels`` (the target's token per position,
-100 where nothing is learnt) and ``detect`` (1 where the source character is wrong). A text longer than
``max_length`` is corrected in its first ``max_length - 2`` characters; the rest is left as written.

Example:
    >>> from transformers import BertTokenizerFast
    >>> tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我", "们", "门"])})
    >>> char_tokens(tokenizer, ["我门 们"])
    [([5, 7, 6], [0, 1, 3])]
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["IGNORE_INDEX", "char_tokens", "encode_pairs", "collate"]

IGNORE_INDEX = -100


def char_tokens(tokenizer: Any, texts: list[str]) -> list[tuple[list[int], list[int]]]:
    """Per text, (token id per kept character, that character's index in the text)."""
    encoded = tokenizer([list(text) for text in texts], is_split_into_words=True, add_special_tokens=False)
    unknown = tokenizer.unk_token_id
    results = []
    for row, text in enumerate(texts):
        pieces: dict[int, list[int]] = {}
        for token, char in zip(encoded["input_ids"][row], encoded.word_ids(row)):
            if char is not None:
                pieces.setdefault(char, []).append(token)
        ids, chars = [], []
        for char in range(len(text)):
            if char in pieces:
                ids.append(pieces[char][0] if len(pieces[char]) == 1 else unknown)
                chars.append(char)
        results.append((ids, chars))
    return results


def encode_pairs(tokenizer: Any, sources: list[str], targets: list[str] | None, trainable: list[bool] | None,
                 max_length: int) -> list[dict[str, Any]]:
    """Features of the sources; ``labels``/``detect`` from the targets of the ``trainable`` (equal-length) pairs,
    all ignored for the others."""
    room = max_length - 2
    source_tokens = char_tokens(tokenizer, sources)
    target_tokens = char_tokens(tokenizer, targets) if targets is not None else [None] * len(sources)
    features = []
    for index, ((ids, chars), target) in enumerate(zip(source_tokens, target_tokens)):
        ids, chars = ids[:room], chars[:room]
        feature: dict[str, Any] = {"input_ids": [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id],
                                   "chars": [None, *chars, None], "example": index}
        if target is not None:
            labels = [IGNORE_INDEX] * len(feature["input_ids"])
            detect = [IGNORE_INDEX] * len(feature["input_ids"])
            if trainable is None or trainable[index]:
                by_char = dict(zip(target[1], target[0]))
                for position, (token, char) in enumerate(zip(ids, chars), start=1):
                    wanted = by_char.get(char)
                    if wanted is not None:
                        detect[position] = int(wanted != token)
                        labels[position] = wanted if wanted != tokenizer.unk_token_id else IGNORE_INDEX
            feature["labels"], feature["detect"] = labels, detect
        features.append(feature)
    return features


def collate(features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Padded ``input_ids``/``attention_mask``, and ``labels``/``detect`` (-100 on padding) when present."""
    width = max(len(f["input_ids"]) for f in features)
    batch = {"input_ids": torch.full((len(features), width), pad_id, dtype=torch.long),
             "attention_mask": torch.zeros((len(features), width), dtype=torch.long)}
    for row, feature in enumerate(features):
        batch["input_ids"][row, : len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
        batch["attention_mask"][row, : len(feature["input_ids"])] = 1
    for key in ("labels", "detect"):
        if key in features[0]:
            batch[key] = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
            for row, feature in enumerate(features):
                batch[key][row, : len(feature[key])] = torch.tensor(feature[key])
    return batch
