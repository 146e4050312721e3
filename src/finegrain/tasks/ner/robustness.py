"""How robustness reads NER: each sentence its token list with the gold tags aligned; a prediction is right when
every word's tag is, and changes when the tag of any original word still in the perturbed sentence does.

Example:
    >>> view = ner_robust_view()
    >>> example = Example((Sentence.from_tokens(["Ada", "sang"], ["B-PER", "O"]),), None, 0)
    >>> view.correct({"tags": ["B-PER", "O"]}, example), sorted(view.protected(example))
    (True, [0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from finegrain.data.split import Split
from finegrain.tasks.explaining import Target
from finegrain.tasks.robustness import Example, RobustView, Sentence

__all__ = ["ner_robust_view"]


def _examples(split: Split) -> list[Example]:
    frame = split.frame
    tags = frame["tags"].tolist() if "tags" in frame else [None] * len(frame)
    return [Example((Sentence.from_tokens(list(tokens), tags[i]),), None, i)
            for i, tokens in enumerate(frame["tokens"])]


def _frame(examples: Sequence[Example]) -> pd.DataFrame:
    return pd.DataFrame({"tokens": [list(e.fields[0].words) for e in examples],
                         "tags": [list(e.fields[0].tags or ()) for e in examples],
                         "row": [e.row + 1 for e in examples]})


def _input(example: Example) -> list[str]:
    return list(example.fields[0].words)


def _correct(prediction: dict[str, Any], example: Example) -> bool:
    return list(prediction["tags"]) == list(example.fields[0].tags or ())


def _by_origin(prediction: dict[str, Any], example: Example) -> dict[int, str]:
    return {origin: tag for origin, tag in zip(example.fields[0].origins(), prediction["tags"]) if origin is not None}


def _changed(clean: dict[str, Any], clean_example: Example, perturbed: dict[str, Any], example: Example) -> bool:
    before, after = _by_origin(clean, clean_example), _by_origin(perturbed, example)
    return any(before.get(origin) != tag for origin, tag in after.items())


def _gold(example: Example, labels: Sequence[str]) -> Target:
    ids = {name: i for i, name in enumerate(labels)}
    tags = example.fields[0].tags or ()
    return Target(label="tags", name="gold tags", outputs=tuple((w, ids[tag]) for w, tag in enumerate(tags)))


def _protected(example: Example) -> set[int]:
    return {index for index, tag in enumerate(example.fields[0].tags or ()) if tag != "O"}


def ner_robust_view() -> RobustView:
    """The NER view: words are the task's tokens, so perturbations keep one tag per word."""
    return RobustView(examples=_examples, frame=_frame, input=_input, correct=_correct, changed=_changed,
                      gold=_gold, protected=_protected, token_level=True, classes=False)
