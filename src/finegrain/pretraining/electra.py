"""ELECTRA pretraining (replaced-token detection, Clark et al. 2020) in the one training loop.

A small masked-LM generator fills the masked positions with tokens sampled from its softmax; the
discriminator, the encoder that is kept, labels every text token original or replaced. It learns
from all tokens instead of the ~15% masked, which is why ELECTRA beats masked-LM at equal compute.
The recipe follows ELECTRA-Small (google-research/electra): the generator has the discriminator's
depth at a quarter of its width (one head per 64 dimensions), both share the embeddings (token,
position, segment), loss = generator MLM + 50 x discriminator BCE, masked positions become [MASK]
85% of the time and stay 15% (no random tokens: the generator's samples are the corruption), and
no gradient flows through the sampling. A sample equal to the original counts as original.

The discriminator is an ``ElectraForPreTraining`` saved alone (``model/``, Hugging Face format):
``finegrain train model.name=RUN`` fine-tunes it as ``ElectraFor{Sequence,Token}Classification``.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from finegrain.pretraining.masking import IGNORE, mask_batch
from finegrain.pretraining.objective import MaskedLMObjective

__all__ = ["ElectraPretrainingModel", "ElectraObjective", "new_electra", "corrupt", "ELECTRA_SCORES"]

ELECTRA_SCORES = ("loss", "generator_loss", "discriminator_loss", "discriminator_accuracy", "replaced_share")
_HEAD_WIDTH = 64  # ELECTRA sizes the generator's heads at 64 dimensions each


class ElectraPretrainingModel(torch.nn.Module):
    """The discriminator (``model``, the one saved) and the generator, sharing the embeddings.

    ``forward`` returns ``[generator loss, discriminator loss, correct detections, scored tokens,
    replaced tokens]``: one tensor, as the loop's objective seam takes; the objective weights the two
    losses into the training loss, and its evaluation sums the counts.
    """

    def __init__(self, discriminator: ElectraForPreTraining, generator: ElectraForMaskedLM):
        super().__init__()
        self.model = discriminator
        self.generator = generator
        generator.electra.embeddings = discriminator.electra.embeddings
        generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                scored: torch.Tensor, sampler: torch.Generator | None = None) -> torch.Tensor:
        chosen = labels != IGNORE
        hidden = self.generator.electra(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # the vocabulary projection on the masked positions only, as in masked-LM (the costliest layer)
        logits = self.generator.generator_lm_head(self.generator.generator_predictions(hidden[chosen])).float()
        targets = labels[chosen]
        generator_loss = F.cross_entropy(logits, targets)
        with torch.no_grad():
            sampled = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=sampler).squeeze(-1)
        corrupted, replaced = corrupt(input_ids, labels, sampled)
        detection = self.model(input_ids=corrupted, attention_mask=attention_mask).logits.float()[scored]
        truth = replaced[scored].float()
        discriminator_loss = F.binary_cross_entropy_with_logits(detection, truth)
        correct = ((detection > 0).float() == truth).sum().float()
        replaced_count = truth.sum()
        return torch.stack([generator_loss, discriminator_loss, correct, truth.new_tensor(truth.numel()),
                            replaced_count])


def corrupt(input_ids: torch.Tensor, labels: torch.Tensor, sampled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's input (``sampled``, in order, at the masked positions: ``labels`` not -100)
    and its targets: True where the sampled token differs from the original, so a sample that
    happens to be the original counts as original (ELECTRA's labelling).

    Example:
        >>> corrupt(torch.tensor([[5, 4, 4]]), torch.tensor([[-100, 6, 7]]), torch.tensor([6, 9]))
        (tensor([[5, 6, 9]]), tensor([[False, False,  True]]))
    """
    chosen = labels != IGNORE
    corrupted = input_ids.clone()
    corrupted[chosen] = sampled
    replaced = torch.zeros_like(chosen)
    replaced[chosen] = sampled != labels[chosen]
    return corrupted, replaced


def new_electra(*, vocab_size: int, layers: int, hidden: int, heads: int, intermediate: int | None,
                max_length: int, pad_id: int, generator_size: float) -> ElectraPretrainingModel:
    """A random discriminator of the given shape (BERT's shape: embeddings as wide as the hidden layers)
    and a generator ``generator_size`` as wide, as deep."""
    shared = dict(vocab_size=vocab_size, embedding_size=hidden, num_hidden_layers=layers,
                  max_position_embeddings=max_length, pad_token_id=pad_id)
    discriminator = ElectraForPreTraining(ElectraConfig(
        hidden_size=hidden, num_attention_heads=heads, intermediate_size=intermediate or 4 * hidden, **shared))
    width = max(_HEAD_WIDTH // 4, round(hidden * generator_size))
    generator_heads = max(1, width // _HEAD_WIDTH)
    width = max(generator_heads, width - width % generator_heads)  # divisible by its heads
    generator = ElectraForMaskedLM(ElectraConfig(
        hidden_size=width, num_attention_heads=generator_heads, intermediate_size=4 * width, **shared))
    return ElectraPretrainingModel(discriminator, generator)


class ElectraObjective(MaskedLMObjective):
    """Masking as masked-LM's (whole words included), then the joint loss; held-out scores on fixed
    masks and fixed samples, so evaluations are comparable."""

    name: ClassVar[str] = "electra"
    scores: ClassVar[tuple[str, ...]] = ELECTRA_SCORES

    def __init__(self, *, probability: float, whole_word: bool, mask_id: int, vocab_size: int, seed: int,
                 discriminator_weight: float):
        super().__init__(probability=probability, whole_word=whole_word, mask_id=mask_id, vocab_size=vocab_size,
                         seed=seed)
        self.discriminator_weight = discriminator_weight

    def _mask(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        return mask_batch(batch, probability=self.probability, whole_word=self.whole_word, mask_id=self.mask_id,
                          vocab_size=self.vocab_size, generator=generator, mask_share=0.85, random_share=0.0)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                sampler: torch.Generator | None = None) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"],
                     scored=batch["scored"], sampler=sampler)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return logits[0] + self.discriminator_weight * logits[1]

    @torch.inference_mode()
    def evaluate_model(self, model: torch.nn.Module, features: list[dict[str, Any]], *, batch_size: int,
                       pad_id: int, device: torch.device, dtype: torch.dtype | None) -> dict[str, Any]:
        """Held-out ``loss`` (the training loss), its two parts, and the discriminator's accuracy over
        text tokens, with ``replaced_share`` the share of them replaced (accuracy's floor)."""
        was_training = model.training
        model.eval()
        autocast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
        sampler = torch.Generator(device=device).manual_seed(self.seed)
        totals, weights = torch.zeros(5), 0
        for batch in self.held_out_batches(features, batch_size, pad_id):
            batch = {key: value.to(device) for key, value in batch.items()}
            with autocast:
                parts = self.forward(model, batch, sampler).float().cpu()
            masked = int((batch["labels"] != IGNORE).sum())
            # losses are means per batch: weight them back into means over tokens
            totals += torch.stack([parts[0] * masked, parts[1] * parts[3], parts[2], parts[3], parts[4]])
            weights += masked
        model.train(was_training)
        generator_loss = totals[0].item() / max(weights, 1)
        discriminator_loss = totals[1].item() / max(totals[3].item(), 1)
        loss = generator_loss + self.discriminator_weight * discriminator_loss
        return {"loss": round(loss, 5), "negative_loss": -round(loss, 5),
                "generator_loss": round(generator_loss, 5), "discriminator_loss": round(discriminator_loss, 5),
                "discriminator_accuracy": round(totals[2].item() / max(totals[3].item(), 1), 5),
                "replaced_share": round(totals[4].item() / max(totals[3].item(), 1), 5), "masked_tokens": weights}
