"""Content checks for token data: sentences as word lists, tags checked, repaired and converted.

The NER task works on one frame shape whatever the input was:

- labelled data (CoNLL, token jsonl/csv, built-ins): ``tokens`` (list[str]), ``tags`` (the
  training scheme, IOB2), ``gold`` (the data's own scheme, repaired: what metrics compare
  against), ``scheme`` (that scheme's name) and ``row``;
- what ``predict`` is given (built by :mod:`finegrain.tasks.ner.inputs`): ``tokens``, and for raw
  texts ``text`` and ``offsets`` (character spans);
- unlabelled word lists: ``tokens`` and ``row``.

Errors point at ``file:line`` (CoNLL: the token's own line; jsonl: the sentence's line).
Recoverable problems (empty sentences, invalid tag sequences) are fixed and reported once, as
one log line with their count, so that a real corpus with a few slips still trains.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finegrain.data.labels import spelling_variants
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.tasks.ner.schemes import (SCHEMES, convert, detect_scheme, normalize_scheme, repair, split_tag,
                                        validate_tag)

__all__ = ["TRAINING_SCHEME", "LOGGER", "sentence_where", "token_where", "as_words", "check_sentences",
           "check_tags", "unseen_tags", "scheme_choices", "warn_type_spellings"]

TRAINING_SCHEME = "IOB2"  # first-sub-token labelling needs only B/I/O, and every scheme converts to it
LOGGER = logging.getLogger("finegrain")
_LINE_PER_TOKEN = {".conll", ".iob", ".bio", ".bioes"}
_LINE_PER_SENTENCE = {".jsonl", ".ndjson"}


def _row(split: Split, index: int) -> int:
    return int(split.frame["row"].iloc[index]) if "row" in split.frame else index + 1


def sentence_where(split: Split, index: int) -> str:
    """``file:line`` for line-based files, else ``source, row N``."""
    suffix = Path(split.source).suffix.lower()
    if suffix in _LINE_PER_TOKEN | _LINE_PER_SENTENCE:
        return f"{split.source}:{_row(split, index)}"
    return split.where(index)


def token_where(split: Split, index: int, token: int) -> str:
    """Where token ``token`` of sentence ``index`` is: its own line in a CoNLL file."""
    if Path(split.source).suffix.lower() in _LINE_PER_TOKEN:
        return f"{split.source}:{_row(split, index) + token}"
    return sentence_where(split, index) + (f", token {token + 1}" if token else "")


def as_words(value: Any, column: str, where: str) -> list[str]:
    """A list of strings from a list/array, or from a space-separated string (csv, jsonl)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, str):
        return value.split()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    raise DataError(f"column '{column}' holds a {type(value).__name__} ({value!r:.60}), not a list of words.",
                    where=where, hint=f"give '{column}' as a JSON list of strings or a space-separated string.")


def _first(places: list[str], limit: int = 3) -> str:
    return ", ".join(places[:limit]) + (f" and {len(places) - limit} more" if len(places) > limit else "")


def check_sentences(split: Split) -> Split:
    """Word and tag lists of equal length; empty sentences dropped with one warning line."""
    frame = split.frame
    tokens = [as_words(v, "tokens", sentence_where(split, i)) for i, v in enumerate(frame["tokens"])]
    tags = [as_words(v, "tags", sentence_where(split, i)) for i, v in enumerate(frame["tags"])]
    for index, (words, labels) in enumerate(zip(tokens, tags)):
        if len(words) != len(labels):
            raise DataError(
                f"sentence has {len(words)} tokens but {len(labels)} tags ({' '.join(words)[:80]!r}).",
                where=sentence_where(split, index),
                hint="give exactly one tag per token (when both are space-separated strings, a token with a"
                     " space inside splits in two: use JSON lists or a CoNLL file).")
    keep = [i for i, words in enumerate(tokens) if words]
    if len(keep) < len(tokens):
        empty = [sentence_where(split, i) for i, words in enumerate(tokens) if not words]
        if not keep:
            raise DataError(f"all {len(tokens)} sentences of the {split.name} data are empty.", where=split.source,
                            hint="check that data.text names the column of word lists.")
        LOGGER.warning("finegrain: skipped %d empty sentence(s) in the %s data (%s).", len(empty), split.name,
                       _first(empty))
    out = pd.DataFrame({"tokens": [tokens[i] for i in keep], "tags": [tags[i] for i in keep],
                        "row": [_row(split, i) for i in keep]})
    return Split(split.name, out, split.source)


def _validate(split: Split, scheme: str) -> None:
    """Every tag well-formed in ``scheme``; the first bad one is named with its line."""
    for index, tags in enumerate(split.frame["tags"]):
        for position, tag in enumerate(tags):
            validate_tag(tag, scheme, where=token_where(split, index, position))


def _scheme_of(split: Split, declared: str) -> str:
    if declared != "auto":
        return normalize_scheme(declared)
    _validate(split, "BIOES")  # accepts every prefix: a malformed tag is named before detection
    return detect_scheme(split.frame["tags"])


def check_tags(split: Split, declared: str) -> Split:
    """Validate tags in the declared (or detected) scheme, repair invalid sequences, convert to IOB2.

    ``gold`` keeps the repaired tags in the data's scheme (strict metrics are computed in it);
    ``tags`` holds them in the training scheme.
    """
    scheme = _scheme_of(split, declared)
    _validate(split, scheme)
    gold, places = [], []
    for index, tags in enumerate(split.frame["tags"]):
        fixed, changed = repair(tags, scheme)
        gold.append(fixed)
        places.extend([sentence_where(split, index)] * changed)
    if places:
        LOGGER.warning("finegrain: repaired %d tag(s) that broke the %s scheme in the %s data (%s).",
                       len(places), scheme, split.name, _first(sorted(set(places), key=places.index)))
    frame = split.frame.copy()
    frame["gold"] = gold
    frame["tags"] = [convert(tags, scheme, TRAINING_SCHEME) for tags in gold]
    frame["scheme"] = scheme
    return Split(split.name, frame, split.source)


def unseen_tags(tag_lists: Sequence[Sequence[str]], known: Sequence[str]) -> dict[str, int]:
    """Tags (training scheme) that the label map lacks, with their counts, sorted by name."""
    counts: dict[str, int] = {}
    known_set = set(known)
    for tags in tag_lists:
        for tag in tags:
            if tag not in known_set:
                counts[tag] = counts.get(tag, 0) + 1
    return dict(sorted(counts.items()))


def warn_type_spellings(split: Split) -> None:
    """Entity types that differ only in case ('Per' beside 'PER') become different types: kept, with
    a warning that names where each rarer spelling first is."""
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for index, tags in enumerate(split.frame["tags"]):
        for position, tag in enumerate(tags):
            entity_type = split_tag(tag)[1]
            if entity_type is not None:
                counts[entity_type] = counts.get(entity_type, 0) + 1
                if entity_type not in first:
                    first[entity_type] = token_where(split, index, position)
    described = [", ".join(f"'{name}' ({_tags(counts[name])}, first at {first[name]})" for name in others)
                 + f" beside '{main}' ({_tags(counts[main])})" for main, others in spelling_variants(counts)]
    if described:
        LOGGER.warning("finegrain: entity types that differ only in case are different types in the %s data: %s. If"
                       " they are one type, write it one way.", split.name, "; ".join(described))


def _tags(count: int) -> str:
    return f"{count} tag{'s' if count > 1 else ''}"


def scheme_choices() -> str:
    return ", ".join(("auto",) + SCHEMES)
