"""How robustness reads classification and pairs: each text a sentence, the gold class kept beside it; a
prediction changes when its label (multi-label: its set of labels) does.

Example:
    >>> view = class_robust_view(("text",), multi_label=False)
    >>> view.input(Example((Sentence.from_text("good film"),), "pos", 0))
    'good film'
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import pandas as pd

from finegrain.data.split import Split
from finegrain.tasks.explaining import Target
from finegrain.tasks.robustness import Example, RobustView, Sentence

__all__ = ["class_robust_view"]


def _examples(split: Split, fields: Sequence[str]) -> list[Example]:
    frame = split.frame
    labels = frame["label"].tolist() if "label" in frame else [None] * len(frame)
    return [Example(tuple(Sentence.from_text(frame[name].iloc[i]) for name in fields), labels[i], i)
            for i in range(len(frame))]


def _frame(examples: Sequence[Example], fields: Sequence[str]) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {name: [e.fields[k].text() for e in examples] for k, name in enumerate(fields)}
    columns["label"] = [e.label for e in examples]
    columns["row"] = [e.row + 1 for e in examples]
    return pd.DataFrame(columns)


def _input(example: Example) -> Any:
    texts = tuple(sentence.text() for sentence in example.fields)
    return texts[0] if len(texts) == 1 else texts


def _outcome(prediction: dict[str, Any], multi_label: bool) -> Any:
    return frozenset(prediction["labels"]) if multi_label else prediction["label"]


def _correct(prediction: dict[str, Any], example: Example, multi_label: bool) -> bool:
    gold = frozenset(example.label) if multi_label else example.label
    return _outcome(prediction, multi_label) == gold


def _changed(clean: dict[str, Any], _: Example, perturbed: dict[str, Any], __: Example, multi_label: bool) -> bool:
    return _outcome(clean, multi_label) != _outcome(perturbed, multi_label)


def _gold(example: Example, labels: Sequence[str]) -> Target:
    return Target(label=example.label, name=example.label, outputs=((None, list(labels).index(example.label)),))


def _protected(example: Example) -> set[int]:
    """Capitalised words inside a sentence (after its first word and not after a full stop): likely names."""
    protected, first = set(), 0
    for sentence in example.fields:
        for index, word in enumerate(sentence.words):
            after_stop = index == 0 or sentence.words[index - 1] in {".", "!", "?"}
            if word[:1].isupper() and not after_stop:
                protected.add(first + index)
        first += len(sentence.words)
    return protected


def class_robust_view(fields: tuple[str, ...], multi_label: bool) -> RobustView:
    """The view of a task giving one class (multi-label: a set) per input of the texts in ``fields``."""
    return RobustView(
        examples=partial(_examples, fields=fields), frame=partial(_frame, fields=fields), input=_input,
        correct=partial(_correct, multi_label=multi_label), changed=partial(_changed, multi_label=multi_label),
        gold=_gold, protected=_protected,
        no_attack="a multi-label input has no one gold class to attack" if multi_label else None,
        classes=not multi_label)
