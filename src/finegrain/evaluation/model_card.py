"""Hugging Face model cards (``model/README.md``) for fine-tuned and pretrained runs.

A card is built from facts the run has measured or recorded, passed in explicitly: the base model
by the name the run recorded (never a machine's absolute path), task, labels, method and its
trainable share, training data (file names, not local paths), scores, and what the model was and
was not checked on. Its metadata (``base_model``, ``pipeline_tag``, ``model-index`` ...) is
huggingface_hub's :class:`ModelCardData`, so ``ModelCard.load(path).data`` reads it back. PEFT writes
a blank template README.md into adapter folders; the card replaces it.

Example:
    >>> card = fine_tuned_card(FineTunedFacts(name="reviews-lora", task="classification", ...))  # doctest: +SKIP
    >>> write_model_card(Path("runs/reviews-lora/model"), card)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

__all__ = ["FineTunedFacts", "PretrainedFacts", "fine_tuned_card", "pretrained_card", "write_model_card",
           "CARD_FILE"]

CARD_FILE = "README.md"
_AUTO_CLASS = {"text-classification": "AutoModelForSequenceClassification",
               "token-classification": "AutoModelForTokenClassification"}


@dataclass(frozen=True)
class FineTunedFacts:
    """What the card of a fine-tuned (or fitted) run says."""

    name: str  # the run's folder name: the card's title
    task: str  # registered task name
    pipeline_tag: str | None  # the hub's pipeline for the task ("text-classification")
    primary_metric: str  # the task's headline metric, a key of each split's metrics
    labels: list[str]
    method: str
    trainable: int  # parameters trained (or fitted)
    total: int  # parameters used to predict
    base_model: str | None  # as the run records it; None: no pretrained encoder (tfidf)
    base_description: str | None  # what a registered base model is (the catalog's words)
    language: str | None  # ISO code, where the base model says
    library_name: str | None  # the folder's format: "peft", "transformers", or None (finegrain's own)
    data: dict[str, tuple[str, int]]  # split -> (source, examples)
    metrics: dict[str, dict[str, Any]]  # split -> its metrics (metrics.json)
    version: str  # finegrain's
    inputs: str = '["a text to label"]'  # what the usage snippet predicts: the task's inputs, as Python


@dataclass(frozen=True)
class PretrainedFacts:
    """What the card of a masked-LM pretraining run says."""

    name: str
    base_model: str | None  # the checkpoint training continued from; None: from scratch
    language: str | None
    parameters: int
    corpora: list[str]  # the training sources
    data: dict[str, tuple[int, int]]  # "train"/"validation" -> (sequences, tokens)
    initial: dict[str, Any]  # held-out scores before training
    final: dict[str, Any]  # held-out scores of the kept model
    scores: tuple[str, ...]  # the keys of those scores to show, in order (the objective's)
    version: str
    objective: str = "mlm"  # or "electra": the model is a replaced-token detector, not a masked-LM


def fine_tuned_card(facts: FineTunedFacts) -> ModelCard:
    """The card of a fine-tuned run: metadata for the hub, then what, how well, how to use, limits."""
    evaluated = "test" if "test" in facts.metrics else "validation"
    data = ModelCardData(
        base_model=facts.base_model, language=facts.language, library_name=facts.library_name,
        pipeline_tag=facts.pipeline_tag, tags=["finegrain", facts.task, facts.method], model_name=facts.name,
        eval_results=_eval_results(facts, evaluated) or None,
    )
    share = 100 * facts.trainable / max(facts.total, 1)
    base = f"`{facts.base_model}`" if facts.base_model else "no pretrained encoder"
    if facts.base_description:
        base += f" ({facts.base_description})"
    sections = [
        f"# {facts.name}",
        f"A {facts.task} model with {len(facts.labels)} labels, trained by finegrain {facts.version} with the"
        f" **{facts.method}** method on {base}: {facts.trainable:,} of {facts.total:,} parameters trained"
        f" ({share:.2f}%).",
        "## Labels\n\n" + ", ".join(f"`{label}`" for label in facts.labels),
        "## Training data\n\n" + _table(["split", "source", "examples"],
                                         [[split, f"`{_source_name(source)}`", f"{count:,}"]
                                          for split, (source, count) in facts.data.items()]),
        "## Evaluation\n\n" + _scores(facts),
        "## How to use\n\n" + _usage(facts),
        "## Intended use and limits\n\n" + _limits(facts, evaluated),
    ]
    return _card(data, sections)


def pretrained_card(facts: PretrainedFacts) -> ModelCard:
    """The card of a pretraining run: a base model to fine-tune, with its corpus and held-out scores."""
    electra = facts.objective == "electra"
    data = ModelCardData(base_model=facts.base_model, language=facts.language, library_name="transformers",
                         pipeline_tag=None if electra else "fill-mask",
                         tags=["finegrain", "electra" if electra else "masked-lm"], model_name=facts.name)
    what = ("An ELECTRA discriminator (replaced-token detection; its generator is not kept)" if electra
            else "A BERT-style masked-language model")
    usage = "AutoModel" if electra else "AutoModelForMaskedLM"
    origin = f"continued from `{facts.base_model}`" if facts.base_model else "from scratch"
    corpora = ", ".join(f"`{_source_name(source)}`" for source in facts.corpora)
    rows = [[key, _number(facts.initial.get(key)), _number(facts.final.get(key))]
            for key in facts.scores if key in facts.final]
    sections = [
        f"# {facts.name}",
        f"{what} ({facts.parameters:,} parameters), pretrained {origin} by"
        f" finegrain {facts.version}.",
        f"## Training data\n\nCorpora: {corpora}.\n\n" + _table(
            ["part", "sequences", "tokens"],
            [[part, f"{sequences:,}", f"{tokens:,}"] for part, (sequences, tokens) in facts.data.items()]),
        f"## Evaluation\n\n{'ELECTRA' if electra else 'Masked-LM'} scores on the held-out text, before training"
        " and for the kept model:\n\n"
        + _table(["metric", "before", "after"], rows),
        "## How to use\n\nAs the base of a fine-tuning run: `finegrain train ... model.name=RUN_FOLDER`; or"
        f" `{usage}.from_pretrained(\"model\")`" + (" for its encodings." if electra else
                                                      " for masked-token prediction."),
        "## Intended use and limits\n\n"
        f"- A base model to fine-tune, not a finished classifier or tagger.\n- It has seen only {corpora}: its"
        " vocabulary and what it knows are those of that text; check a fine-tuned model on your own data"
        " before using it on other domains or languages.",
    ]
    return _card(data, sections)


def write_model_card(folder: Path, card: ModelCard) -> Path:
    """Write ``card`` as ``folder/README.md`` in one rename, replacing what is there (PEFT's template)."""
    target = folder / CARD_FILE
    temporary = folder / f".{CARD_FILE}.tmp"
    temporary.write_text(str(card), encoding="utf-8")
    os.replace(temporary, target)
    return target


def _card(data: ModelCardData, sections: list[str]) -> ModelCard:
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _eval_results(facts: FineTunedFacts, split: str) -> list[EvalResult]:
    """model-index entries: the evaluated split's headline scores (the hub shows them on the page)."""
    if facts.pipeline_tag is None or split not in facts.data:
        return []
    source = _source_name(facts.data[split][0])
    dataset, _, part = source.partition(":") if not Path(source).suffix else (source, "", "")
    return [EvalResult(task_type=facts.pipeline_tag, dataset_type=dataset, dataset_name=dataset,
                       dataset_split=part or split, metric_type=key, metric_value=value)
            for key, value in _headline(facts.metrics[split], facts.primary_metric)]


def _headline(metrics: dict[str, Any], primary: str) -> list[tuple[str, float]]:
    """The split's top-level scores, the primary one first (counts, flags and nested tables left out)."""
    scores = [(key, float(value)) for key, value in metrics.items() if _is_score(value) and key != "n"]
    return sorted(scores, key=lambda item: item[0] != primary)


def _scores(facts: FineTunedFacts) -> str:
    splits = [split for split in ("test", "validation") if split in facts.metrics]
    if not splits:
        return "No split was held out for evaluation."
    keys = [key for key, _ in _headline(facts.metrics[splits[0]], facts.primary_metric)]
    rows = [[f"{key} (primary)" if key == facts.primary_metric else key,
             *(_number(facts.metrics[split].get(key)) for split in splits)] for key in keys]
    return "Scores of the kept model:\n\n" + _table(["metric", *splits], rows)


def _usage(facts: FineTunedFacts) -> str:
    lines = ["With finegrain, from the run folder that holds this `model/` folder:", "", "```python",
             "import finegrain", "", 'predictor = finegrain.load("RUN_FOLDER")  # base=... if the base model moved',
             f"predictor.predict({facts.inputs})", "```"]
    if facts.library_name == "peft":
        auto = _AUTO_CLASS.get(facts.pipeline_tag or "", "AutoModel")
        lines += ["", f"With PEFT, on the base model (`{facts.base_model}` as the run records it: a finegrain"
                  " registered name, a hub name, or a folder relative to the run folder):", "", "```python",
                  "from peft import PeftModel", f"from transformers import {auto}", "",
                  f"base_model = {auto}.from_pretrained(BASE_MODEL_FOLDER, num_labels={len(facts.labels)})",
                  'model = PeftModel.from_pretrained(base_model, "model")', "```"]
    elif facts.library_name == "transformers":
        lines += ["", "With transformers alone: `AutoModelFor...Classification.from_pretrained(\"model\")`"
                  " (label names are in its config)."]
    return "\n".join(lines)


def _limits(facts: FineTunedFacts, evaluated: str) -> str:
    train_source, train_count = facts.data.get("train", ("the training data", 0))
    lines = [f"- Trained on {train_count:,} examples from `{_source_name(train_source)}`, for texts like those."]
    if evaluated in facts.metrics and evaluated in facts.data:
        source, count = facts.data[evaluated]
        score = _number(facts.metrics[evaluated].get(facts.primary_metric))
        lines.append(f"- Evaluated on {count:,} {evaluated} examples from `{_source_name(source)}`"
                     f" ({facts.primary_metric} {score}).")
        if evaluated == "validation":
            lines.append("- There was no test split: the validation split also chose the kept checkpoint, so its"
                         " score is optimistic.")
    lines.append("- Not checked on other domains, text styles or languages: measure it on labelled data of your own"
                 " (`finegrain eval RUN_FOLDER --data FILE`) before relying on it there.")
    return "\n".join(lines)


def _source_name(source: str) -> str:
    """A file by its name (a local path says nothing elsewhere), a built-in dataset as it is named."""
    return Path(source).name if "/" in source or os.sep in source else source


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))
