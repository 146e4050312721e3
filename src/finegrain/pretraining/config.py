"""Typed pretraining configuration: masked-LM on unlabeled text, from a checkpoint or from scratch.

Same rules as the run config (:mod:`finegrain.config`): unknown keys are rejected with a
"did you mean", every problem is reported at once, dotted overrides apply on top of the YAML.

Example:
    >>> cfg = load_pretrain_config({"data": {"train": ["peoples-daily-1998"]}, "output": "runs/zh"},
    ...                            ["model.layers=2"])
    >>> cfg.model.layers, cfg.masking.probability, cfg.from_scratch
    (2, 0.15, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from finegrain.config import (Section, TrainConfig, describe_errors, merge_sections, parse_overrides, read_yaml,
                              retired_problems, without_retired)
from finegrain.errors import ConfigError

__all__ = ["PretrainModelConfig", "CorpusConfig", "MaskingConfig", "ObjectiveConfig", "PretrainConfig",
           "load_pretrain_config", "dump_pretrain_config"]

_SCRATCH_KEYS = ("vocab_size", "layers", "hidden", "heads", "intermediate", "lowercase")


class PretrainModelConfig(Section):
    # A checkpoint to continue from (registered name or model folder); None: a new model from scratch.
    name: str | None = None
    max_length: int = Field(128, ge=16)  # short sequences: attention cost grows with the square
    # From scratch only (a WordPiece tokenizer trained on the corpus, then a BERT encoder):
    vocab_size: int = Field(8000, ge=32)  # Chinese is character-level: a few thousand characters suffice
    layers: int = Field(4, ge=1)
    hidden: int = Field(256, ge=8)
    heads: int = Field(4, ge=1)
    intermediate: int | None = Field(None, ge=8)  # None: 4 x hidden, as in BERT
    lowercase: bool = True

    @model_validator(mode="after")
    def _check_shape(self) -> PretrainModelConfig:
        if self.hidden % self.heads:
            raise ValueError(f"model.hidden={self.hidden} is not divisible by model.heads={self.heads}: each head"
                             f" takes hidden/heads dimensions. Try heads={_divisor_near(self.hidden, self.heads)}"
                             f" or hidden={self.heads * max(1, round(self.hidden / self.heads))}.")
        given = sorted(set(_SCRATCH_KEYS) & self.model_fields_set)
        if self.name is not None and given:
            raise ValueError(f"model.{', model.'.join(given)} only apply from scratch, but model.name='{self.name}'"
                             " continues a checkpoint (its size is fixed). Remove them, or remove model.name.")
        return self


class CorpusConfig(Section):
    # Files (.txt: one document per line, or blank-line separated paragraphs; .jsonl) or built-in corpora.
    train: list[str] = Field(min_length=1)
    validation: str | None = None  # None: a held-out share of the training documents
    validation_fraction: float = Field(0.02, gt=0.0, lt=0.5)
    text: str = "text"  # the field holding the text in .jsonl files
    max_documents: int | None = Field(None, ge=2)  # a random subset, for quick runs
    deduplicate: bool = True  # each distinct document once (before the held-out split, so none is on both sides)

    @field_validator("train", mode="before")
    @classmethod
    def _one_source(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class MaskingConfig(Section):
    probability: float = Field(0.15, gt=0.0, lt=1.0)  # BERT's 15%; of those 80% [MASK], 10% random, 10% kept
    whole_word: bool = True  # mask all pieces of a whitespace word together (each CJK character is a word)
    pack: bool = True  # concatenate short documents into full sequences: no padding, more text per step
    # What a Chinese word is for whole-word masking: "characters" (each its own word), or "jieba"'s words
    # (Chinese-BERT-wwm: the model cannot fill a character from the rest of its word). Tokens stay characters.
    segmenter: Literal["characters", "jieba"] = "characters"

    @model_validator(mode="after")
    def _segmenter_needs_whole_word(self) -> MaskingConfig:
        if self.segmenter != "characters" and not self.whole_word:
            raise ValueError(f"masking.segmenter={self.segmenter} groups characters into words for whole-word"
                             " masking, but masking.whole_word=false masks single tokens. Set whole_word=true.")
        return self


class ObjectiveConfig(Section):
    # mlm: predict the masked tokens (BERT). electra: a small masked-LM generator fills the masks, and the
    # model (the discriminator, the encoder kept) tells every token original or replaced (ELECTRA, Clark et al.
    # 2020): it learns from all tokens, not the 15% masked, so more per step.
    name: Literal["mlm", "electra"] = "mlm"
    generator_size: float = Field(0.25, gt=0.0, le=1.0)  # generator hidden / discriminator hidden: ELECTRA-Small's
    discriminator_weight: float = Field(50.0, gt=0.0)  # lambda: the detection loss is ~50x smaller per token

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _electra_settings(self) -> ObjectiveConfig:
        given = sorted({"generator_size", "discriminator_weight"} & self.model_fields_set)
        if self.name != "electra" and given:
            raise ValueError(f"objective.{', objective.'.join(given)} only apply to objective.name=electra"
                             f" (found name={self.name}). Remove them, or set objective=electra.")
        return self


class PretrainConfig(Section):
    model: PretrainModelConfig = PretrainModelConfig()
    data: CorpusConfig
    masking: MaskingConfig = MaskingConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    train: TrainConfig = TrainConfig(epochs=1, batch_size=32, eval_batch_size=64, warmup=0.06, log_every=20)
    output: str

    @property
    def from_scratch(self) -> bool:
        return self.model.name is None

    @model_validator(mode="after")
    def _electra_from_scratch(self) -> PretrainConfig:
        if self.objective.name == "electra" and self.model.name is not None:
            raise ValueError(f"objective=electra trains a new discriminator and generator together, but"
                             f" model.name='{self.model.name}' continues a checkpoint. Remove model.name to"
                             " pretrain from scratch, or use objective=mlm to continue the checkpoint.")
        return self


def _divisor_near(hidden: int, heads: int) -> int:
    divisors = [d for d in range(1, hidden + 1) if hidden % d == 0]
    return min(divisors, key=lambda d: (abs(d - heads), d))


def load_pretrain_config(source: str | Path | dict[str, Any], overrides: list[str] | None = None) -> PretrainConfig:
    """Build and validate a :class:`PretrainConfig` from a YAML path or a dict plus dotted overrides."""
    where = None if isinstance(source, dict) else str(source)
    data = dict(source) if isinstance(source, dict) else read_yaml(source)
    data = merge_sections(data, parse_overrides(overrides or []))
    problems = retired_problems(data)
    try:
        config = PretrainConfig.model_validate(without_retired(data))
    except ValidationError as error:
        problems += [line.replace(": Value error, ", ": ") for line in describe_errors(error, model=PretrainConfig)]
    if not problems:
        return config
    raise ConfigError(f"{len(problems)} problem(s) in the pretraining config:\n  - " + "\n  - ".join(problems),
                      where=where)


def dump_pretrain_config(config: PretrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
