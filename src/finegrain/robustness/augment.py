"""``data.augment``: EDA-style copies of the training split (never validation or test), seeded per example, from the
same edits the robustness tests use: keyboard typos, WordNet synonyms, word swaps, word deletions and (NER) entity
swaps. Each training example gains ``copies`` edited copies (a copy no edit changed is dropped); for NER only words
tagged ``O`` are swapped, deleted or replaced by synonyms, so every entity keeps its words and tags.

This module, like the perturbations and word lists it uses, imports nothing above the task layer, so the training
setup calls it.

Example:
    >>> augmented = augment_split(task, train, AugmentConfig(typos=0.1, delete=0.1), seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable

import pandas as pd

from finegrain.config import AugmentConfig
from finegrain.data.split import Split
from finegrain.errors import ConfigError
from finegrain.robustness.perturbations import PERTURBATIONS, keyboard_typo, match_case
from finegrain.robustness.wordnet import MISSING_HINT, synonyms, wordnet_available
from finegrain.tasks.base import Task
from finegrain.tasks.robustness import Example, Sentence

__all__ = ["augment_split"]


def augment_split(task: Task, train: Split, config: AugmentConfig, seed: int) -> Split:
    """The checked training split with its edited copies appended (each copy keeps its source row for messages)."""
    if config.synonyms and not wordnet_available():
        raise ConfigError(f"data.augment.synonyms needs WordNet, which is not installed: {MISSING_HINT}",
                          where="data.augment.synonyms", hint="set it to 0, or install wordnet-base.")
    view = task.robustness
    if config.entity_swap and not view.token_level:
        raise ConfigError(f"data.augment.entity_swap renames tagged entities, but the {task.description} task has no"
                          " tags.", where="data.augment.entity_swap", hint="set it to 0, or use it for NER runs.")
    copies = [copy for example in view.examples(train) for k in range(config.copies)
              if (copy := _copy(example, config, view.token_level, random.Random(f"{seed}:augment:{example.row}:{k}")))
              is not None]
    if not copies:
        return train
    added = view.frame(copies)
    added["row"] = [train.frame["row"].iloc[c.row] if "row" in train.frame else c.row + 1 for c in copies]
    frame = pd.concat([train.frame, added], ignore_index=True)
    print(f"finegrain: data.augment added {len(copies)} edited copies to the {len(train)} training examples",
          file=sys.stderr)
    return task.check(Split(train.name, frame, train.source))


def _copy(example: Example, config: AugmentConfig, token_level: bool, rng: random.Random) -> Example | None:
    fields = []
    for sentence in example.fields:
        edited = _edit(sentence, config, rng)
        if config.entity_swap and token_level and rng.random() < config.entity_swap:
            edited = PERTURBATIONS.get("entity-swap").apply(edited, rng) or edited
        fields.append(edited)
    changed = example.with_fields(fields)
    return None if changed == example else changed


def _free(sentence: Sentence, index: int) -> bool:
    """A word an edit may move, drop or replace by a synonym: a word (not a mark), outside every entity."""
    word = sentence.words[index]
    return any(c.isalpha() for c in word) and (sentence.tags is None or sentence.tags[index] == "O")


def _edit(sentence: Sentence, config: AugmentConfig, rng: random.Random) -> Sentence:
    """Each word, with its probability per edit: typo, synonym, swapped with another free word, deleted."""
    edits: list[tuple[float, Callable[[Sentence, int, random.Random], Sentence | None]]] = [
        (config.typos, _typo), (config.synonyms, _synonym), (config.swap, _swap), (config.delete, _delete)]
    for probability, edit in edits:
        if not probability:
            continue
        index = 0
        while index < len(sentence.words):
            if rng.random() < probability and (edited := edit(sentence, index, rng)) is not None:
                deleted, sentence = len(edited.words) < len(sentence.words), edited
                if deleted:  # the next word has moved to this index
                    continue
            index += 1
    return sentence


def _typo(sentence: Sentence, index: int, rng: random.Random) -> Sentence | None:
    word = sentence.words[index]
    return sentence.splice(index, [keyboard_typo(word, rng)]) if word.isalpha() and len(word) > 2 else None


def _synonym(sentence: Sentence, index: int, rng: random.Random) -> Sentence | None:
    if not _free(sentence, index):
        return None
    found = synonyms(sentence.words[index].lower())
    return sentence.splice(index, [match_case(rng.choice(found), sentence.words[index])]) if found else None


def _swap(sentence: Sentence, index: int, rng: random.Random) -> Sentence | None:
    others = [j for j in range(len(sentence.words)) if j != index and _free(sentence, j)]
    if not _free(sentence, index) or not others:
        return None
    other = rng.choice(others)
    first, second = sentence.words[index], sentence.words[other]
    return sentence.splice(index, [second]).splice(other, [first])


def _delete(sentence: Sentence, index: int, rng: random.Random) -> Sentence | None:
    if not _free(sentence, index) or sum(_free(sentence, j) for j in range(len(sentence.words))) < 2:
        return None  # the last free word stays: an input keeps at least one word
    return sentence.splice(index, [])
