"""Sequences for masked-LM: documents packed into full sequences, and (whole-word) masking.

A feature is ``{"input_ids": [...], "word_ids": [...]}``: ``word_ids`` numbers the words of the
sequence from 0 (-1 for [CLS], [SEP]); a word is a whitespace word split by the tokenizer into
pieces, or one CJK character, or, with a segmenter (jieba, :mod:`finegrain.pretraining.segmenter`),
the segmenter's word each token starts in. Whole-word masking draws one coin per word, so all pieces
of a chosen word are masked together and the model cannot fill a word from its own other pieces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from finegrain.tasks.modeling import quiet_transformers

__all__ = ["encode_documents", "mask_batch", "pad_batch"]

IGNORE = -100  # the label cross-entropy skips


def encode_documents(documents: list[str], tokenizer: Any, max_length: int, *, pack: bool,
                     segment: Callable[[str], list[int]] | None = None) -> list[dict[str, Any]]:
    """Tokenize documents into sequences of at most ``max_length`` tokens, [CLS] ... [SEP].

    Packed: documents are concatenated, separated by [SEP], and cut into full sequences, so short
    lines waste no compute on padding. Unpacked: each document alone, long ones cut into pieces.
    ``segment`` gives each character's word number; None: the tokenizer's words.
    """
    with quiet_transformers():  # long documents are cut below, so 'longer than the maximum' does not apply
        encoded = tokenizer(documents, add_special_tokens=False, return_attention_mask=False,
                            return_token_type_ids=False, return_offsets_mapping=segment is not None)
    body = max_length - 2
    features: list[dict[str, Any]] = []
    stream_ids: list[int] = []
    stream_words: list[int] = []
    next_word = 0
    for index, ids in enumerate(encoded["input_ids"]):
        if not ids:
            continue
        words = [next_word + w for w in _token_words(encoded, index, documents[index], segment)]
        next_word = words[-1] + 1
        if not pack:
            for start in range(0, len(ids), body):
                features.append(_sequence(tokenizer, ids[start:start + body], words[start:start + body]))
            continue
        if stream_ids:
            stream_ids.append(tokenizer.sep_token_id)
            stream_words.append(-1)
        stream_ids.extend(ids)
        stream_words.extend(words)
        while len(stream_ids) >= body:
            features.append(_sequence(tokenizer, stream_ids[:body], stream_words[:body]))
            stream_ids, stream_words = stream_ids[body:], stream_words[body:]
    if pack and any(w >= 0 for w in stream_words):
        features.append(_sequence(tokenizer, stream_ids, stream_words))
    return features


def _token_words(encoded: Any, index: int, document: str, segment: Callable[[str], list[int]] | None) -> list[int]:
    """Each token's word number in its document: the segmenter's word holding its first character."""
    if segment is None:
        return encoded.word_ids(index)
    character_words = segment(document)
    return [character_words[start] for start, _end in encoded["offset_mapping"][index]]


def _sequence(tokenizer: Any, ids: list[int], words: list[int]) -> dict[str, Any]:
    """[CLS] ids [SEP], its words numbered 0, 1, ... in order: a segmenter's numbers skip words no token starts
    in (spaces), and a gap could number a word past the sequence's length, where masking draws its coins."""
    dense: dict[int, int] = {}
    numbered = [dense.setdefault(w, len(dense)) if w >= 0 else -1 for w in words]
    return {"input_ids": [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id], "word_ids": [-1, *numbered, -1]}


def pad_batch(features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """``input_ids``, ``attention_mask`` and ``word_ids`` (-1 on padding), right-padded."""
    width = max(len(f["input_ids"]) for f in features)
    input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    word_ids = torch.full((len(features), width), -1, dtype=torch.long)
    attention_mask = torch.zeros((len(features), width), dtype=torch.long)
    for row, feature in enumerate(features):
        length = len(feature["input_ids"])
        input_ids[row, :length] = torch.tensor(feature["input_ids"])
        word_ids[row, :length] = torch.tensor(feature["word_ids"])
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "word_ids": word_ids}


def mask_batch(batch: dict[str, torch.Tensor], *, probability: float, whole_word: bool, mask_id: int,
               vocab_size: int, generator: torch.Generator | None = None, mask_share: float = 0.8,
               random_share: float = 0.1) -> dict[str, torch.Tensor]:
    """Choose ~``probability`` of the tokens (by word when ``whole_word``); of those, ``mask_share``
    become [MASK], ``random_share`` a random token, the rest stay (BERT: 80/10/10). Returns
    ``input_ids`` (masked), ``attention_mask``, ``labels`` (the original token where chosen, -100
    elsewhere) and ``scored`` (True on text tokens: not [CLS], [SEP] or padding)."""
    input_ids, words = batch["input_ids"], batch["word_ids"]
    eligible = words >= 0
    if not whole_word:  # every token its own word
        words = torch.where(eligible, torch.arange(words.shape[1]).expand_as(words), -1)
    coins = torch.rand(words.shape, generator=generator)
    chosen = (coins.gather(1, words.clamp(min=0)) < probability) & eligible
    if not chosen.any():  # a batch without a single target would give a NaN loss
        chosen.view(-1)[eligible.view(-1).nonzero()[0]] = True
    labels = torch.where(chosen, input_ids, IGNORE)
    action = torch.rand(words.shape, generator=generator)
    masked = input_ids.masked_fill(chosen & (action < mask_share), mask_id)
    randomised = chosen & (action >= mask_share) & (action < mask_share + random_share)
    random_tokens = torch.randint(vocab_size, words.shape, generator=generator)
    masked = torch.where(randomised, random_tokens, masked)
    return {"input_ids": masked, "attention_mask": batch["attention_mask"], "labels": labels, "scored": eligible}
