"""The masked-LM objective and its validation, in the shapes the one training loop takes.

``training.loop.fit`` calls the objective's ``collate`` (here: dynamic masking, fresh for every batch
and epoch), ``forward`` + ``loss`` (cross-entropy on the masked tokens only), and the validation's
``evaluate`` (:class:`HeldOutMasks`: held-out loss, perplexity and accuracy on fixed masks, so
evaluations are comparable), keeping the model with the best ``primary_metric``.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from finegrain.pretraining.masking import mask_batch, pad_batch
from finegrain.tasks.base import Feature
from finegrain.tasks.objective import Objective
from finegrain.training.inference import Shard

__all__ = ["MaskedLMObjective", "HeldOutMasks", "HELD_OUT_SCORES", "describe_scores"]

# The held-out scores that evaluations log and ``finegrain pretrain`` prints (``evaluate_model`` returns them).
HELD_OUT_SCORES = ("loss", "perplexity", "accuracy")


def describe_scores(scores: dict[str, Any]) -> str:
    """The held-out scores on one line, as ``finegrain pretrain`` prints them (ELECTRA's when they are).

    Example:
        >>> describe_scores({"loss": 2.5, "perplexity": 12.18, "accuracy": 0.4})
        'masked-LM loss 2.5  perplexity 12.18  accuracy 0.4'
    """
    if "discriminator_loss" in scores:
        keys = ("loss", "generator_loss", "discriminator_loss", "discriminator_accuracy")
        return "ELECTRA " + "  ".join(f"{key} {scores.get(key)}" for key in keys)
    return "masked-LM " + "  ".join(f"{key} {scores.get(key)}" for key in HELD_OUT_SCORES)


class MaskedLMObjective(Objective):
    name: ClassVar[str] = "masked-lm"
    scores: ClassVar[tuple[str, ...]] = HELD_OUT_SCORES  # the held-out scores evaluate_model returns, in order

    def __init__(self, *, probability: float, whole_word: bool, mask_id: int, vocab_size: int, seed: int):
        self.probability = probability
        self.whole_word = whole_word
        self.mask_id = mask_id
        self.vocab_size = vocab_size
        self.seed = seed

    def _mask(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        return mask_batch(batch, probability=self.probability, whole_word=self.whole_word, mask_id=self.mask_id,
                          vocab_size=self.vocab_size, generator=generator)

    def collate(self, features: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
        """Pad and mask, with masks drawn from the run's seed and the batch's content: fresh for
        every batch, yet the same after a resume. (The global RNG would not do: the data loader
        collates one batch ahead, so a checkpoint would store an RNG already past its next batch.)"""
        batch = pad_batch(features, pad_id)
        content = zlib.crc32(batch["input_ids"].numpy().tobytes())
        return self._mask(batch, torch.Generator().manual_seed(self.seed * 2**32 + content))

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["labels"]
        return F.cross_entropy(logits.float(), labels[labels != -100])

    def held_out_batches(self, features: list[dict[str, Any]], batch_size: int, pad_id: int) -> list[dict]:
        """Seeded masks: every evaluation scores the same masked tokens, so losses are comparable."""
        generator = torch.Generator().manual_seed(self.seed)
        return [self._mask(pad_batch(features[i:i + batch_size], pad_id), generator)
                for i in range(0, len(features), batch_size)]

    @torch.inference_mode()
    def evaluate_model(self, model: torch.nn.Module, features: list[dict[str, Any]], *, batch_size: int,
                       pad_id: int, device: torch.device, dtype: torch.dtype | None) -> dict[str, Any]:
        """Held-out masked-LM ``loss`` (mean over masked tokens), ``perplexity`` = exp(loss), ``accuracy``."""
        was_training = model.training
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        for batch in self.held_out_batches(features, batch_size, pad_id):
            batch = {key: value.to(device) for key, value in batch.items()}
            with autocast:
                logits = self.forward(model, batch).float()
            targets = batch["labels"][batch["labels"] != -100]
            total_loss += F.cross_entropy(logits, targets, reduction="sum").item()
            correct += (logits.argmax(-1) == targets).sum().item()
            count += targets.numel()
        model.train(was_training)
        loss = total_loss / max(count, 1)
        return {"loss": round(loss, 5), "negative_loss": -round(loss, 5),
                "perplexity": round(math.exp(min(loss, 50.0)), 3),
                "accuracy": round(correct / max(count, 1), 5), "masked_tokens": count}


@dataclass(frozen=True)
class HeldOutMasks:
    """The loop's validation in pretraining: the objective's held-out scores on ``features``. Every process
    scores all of them: there are no per-example logits to gather (a vocabulary's worth per token would
    not fit in memory)."""

    objective: MaskedLMObjective
    features: list[Feature]
    # The loop keeps the model with the greatest primary metric: the held-out loss, negated.
    # (Masked-token accuracy plateaus early, on frequent tokens, while the loss still improves.)
    primary_metric: ClassVar[str] = "negative_loss"
    greater_is_better: ClassVar[bool] = True

    @property
    def logged_metrics(self) -> tuple[str, ...]:
        return self.objective.scores

    def evaluate(self, model: torch.nn.Module, *, batch_size: int, pad_id: int, device: torch.device,
                 dtype: torch.dtype | None, shard: Shard = Shard()) -> dict[str, Any]:
        return self.objective.evaluate_model(model, self.features, batch_size=batch_size, pad_id=pad_id,
                                             device=device, dtype=dtype)
