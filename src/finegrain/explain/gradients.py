"""Attributions from inside a PyTorch model: integrated gradients and gradient x input on the input
embeddings (Captum's ``LayerIntegratedGradients`` / ``LayerGradientXActivation``), and attention rollout.

Each (model input, target) pair is one row; rows are batched together, and integrated gradients runs every
interpolation step of a batch in one forward pass (``internal_batch_size`` bounds it). The baseline is the
input with every word token replaced by the padding token and the special tokens ([CLS], [SEP]) kept. A
target is the sum of the probabilities it names (a class; each word's tag of an entity), so its row's output
is ``(probabilities * weights).sum()`` with a 0/1 weight per (position, class). Token attributions are summed
into words through the task's ``word_ids`` (sub-tokens into their word; no token text is looked at).
Captum is imported here only, when a gradient explainer runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from finegrain.errors import ModelError
from finegrain.tasks.explaining import ExplainView, Target
from finegrain.training.logits_source import ModelLogits

__all__ = ["Row", "rows_for", "gradient_scores", "rollout_scores"]

ROWS_PER_BATCH = 8  # (input, target) rows per forward of gradient x input and attention rollout
# Integrated gradients' forward holds every interpolation step of its rows: at most this many tokens (rows x
# steps x width, one row at least), so activations stay in cache; larger batches were slower on CPU.
IG_TOKENS_PER_BATCH = 2048


@dataclass(frozen=True)
class Row:
    """One model input (a window of an example) and the target whose output it computes."""

    feature: dict[str, Any]
    example: int
    target: int  # index into the example's targets
    weights: torch.Tensor  # (classes,) for a class of the whole input, (positions, classes) for word outputs


def rows_for(features: Sequence[dict[str, Any]], targets: Sequence[Sequence[Target]], n_classes: int,
             token_level: bool) -> list[Row]:
    """A row per window and target that the window computes some output of (all windows, for a class)."""
    rows = []
    for feature in features:
        example = feature["example"]
        for index, target in enumerate(targets[example]):
            weights = _weights(feature, target, n_classes, token_level)
            if weights is not None:
                rows.append(Row(feature, example, index, weights))
    return rows


def _weights(feature: dict[str, Any], target: Target, n_classes: int, token_level: bool) -> torch.Tensor | None:
    if not token_level:
        weights = torch.zeros(n_classes)
        for _, label in target.outputs:
            weights[label] = 1.0
        return weights
    weights = torch.zeros(len(feature["input_ids"]), n_classes)
    owned = feature.get("owned") or [True] * len(feature["input_ids"])
    position = {w: p for p, (w, own) in reversed(list(enumerate(zip(feature["word_ids"], owned)))) if own}
    for word, label in target.outputs:
        if word in position:
            weights[position[word], label] = 1.0
    return weights if weights.any() else None


def _batch(source: ModelLogits, rows: Sequence[Row]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Padded model inputs, the baseline ids (word tokens -> padding, specials kept) and the padded weights."""
    features = [{k: v for k, v in row.feature.items() if k in ("input_ids", "token_type_ids")} for row in rows]
    batch = {k: v.to(source.device) for k, v in source.encoding.collate(features).items()}
    pad = source.encoding.tokenizer.pad_token_id or 0
    baseline = batch["input_ids"].clone()
    for index, row in enumerate(rows):
        words = [p for p, w in enumerate(row.feature["word_ids"]) if w is not None]
        baseline[index, words] = pad
    width = batch["input_ids"].shape[1]
    weights = torch.stack([torch.nn.functional.pad(row.weights, (0, 0, 0, width - row.weights.shape[0]))
                           if row.weights.dim() == 2 else row.weights for row in rows]).to(source.device)
    return batch, baseline, weights


def _merge(rows: Sequence[Row], token_scores: torch.Tensor, n_words: Sequence[int]) -> dict[tuple[int, int], np.ndarray]:
    """Per (example, target), token scores summed into words over all its rows (windows)."""
    merged: dict[tuple[int, int], np.ndarray] = {}
    for row, scores in zip(rows, token_scores.detach().float().cpu().numpy()):
        words = merged.setdefault((row.example, row.target), np.zeros(n_words[row.example]))
        for position, word in enumerate(row.feature["word_ids"]):
            if word is not None:
                words[word] += scores[position]
    return merged


@contextlib.contextmanager
def _autocast(source: ModelLogits) -> Iterator[None]:
    """Gradients of the model in eval mode, under the run's autocast (bf16 where the run uses it), with every
    parameter's ``requires_grad`` off: attributions need the gradient at the embeddings' output only, and a
    backward pass that skips the weights' gradients does about half the work."""
    model = source.model
    was_training = model.training
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.eval()
    autocast = torch.autocast(source.device.type, dtype=source.dtype) if source.dtype else contextlib.nullcontext()
    try:
        for parameter in trainable:
            parameter.requires_grad_(False)
        with torch.enable_grad(), autocast:
            yield
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
        model.train(was_training)


def gradient_scores(source: ModelLogits, view: ExplainView, rows: Sequence[Row], n_words: Sequence[int], *,
                    integrated: bool, steps: int) -> tuple[dict[tuple[int, int], np.ndarray], dict[tuple[int, int], float]]:
    """Word scores (and, for integrated gradients, convergence deltas) per (example, target)."""
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    model = source.model

    def output(input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None,
               weights: torch.Tensor) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        logits = model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        products = view.probabilities(logits) * weights
        return products.flatten(1).sum(dim=1)

    layer = model.get_input_embeddings()
    explainer = LayerIntegratedGradients(output, layer) if integrated else LayerGradientXActivation(output, layer)
    rows = sorted(rows, key=lambda row: len(row.feature["input_ids"]))  # batches of like lengths: little padding
    all_scores, deltas = [], []
    with _autocast(source):
        for chunk in _chunks(rows, steps if integrated else 1):
            batch, baseline, weights = _batch(source, chunk)
            forward_args = (batch["attention_mask"], batch.get("token_type_ids"), weights)
            if integrated:
                attributions, delta = explainer.attribute(
                    batch["input_ids"], baselines=baseline, additional_forward_args=forward_args, n_steps=steps,
                    internal_batch_size=len(weights) * steps, return_convergence_delta=True)
                deltas.extend(delta.detach().float().cpu().tolist())
            else:
                attributions = explainer.attribute(batch["input_ids"], additional_forward_args=forward_args)
            all_scores.extend(attributions.float().sum(dim=-1))
    merged = _merge(rows, _padded(all_scores), n_words)
    summed: dict[tuple[int, int], float] = {}
    for row, delta in zip(rows, deltas):
        summed[(row.example, row.target)] = summed.get((row.example, row.target), 0.0) + delta
    return merged, summed


def _chunks(rows: Sequence[Row], steps: int) -> Iterator[Sequence[Row]]:
    """Consecutive rows (sorted by length, so the last is the widest) per forward: ROWS_PER_BATCH at most,
    and at most IG_TOKENS_PER_BATCH interpolated tokens when each row runs ``steps`` times."""
    start = 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and end - start < ROWS_PER_BATCH and (
                steps == 1 or (end + 1 - start) * steps * len(rows[end].feature["input_ids"]) <= IG_TOKENS_PER_BATCH):
            end += 1
        yield rows[start:end]
        start = end


def _padded(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.stack([torch.nn.functional.pad(row, (0, width - len(row))) for row in rows])


def rollout_scores(source: ModelLogits, view: ExplainView, rows: Sequence[Row], n_words: Sequence[int],
                   ) -> dict[tuple[int, int], np.ndarray]:
    """Attention rollout (Abnar & Zuidema, 2020): head-averaged attention with the residual added, multiplied
    through the layers; a token's score is the rolled-out attention the target's positions pay it (the first
    position for a class of the whole input)."""
    model, scores = source.model, []
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")  # the fused kernels return no attention weights
    try:
        with torch.inference_mode(), view.full_attention(model):
            for start in range(0, len(rows), ROWS_PER_BATCH):
                chunk = rows[start:start + ROWS_PER_BATCH]
                batch, _, weights = _batch(source, chunk)
                attentions = model(**batch, output_attentions=True).attentions
                scores.extend(_rollout(attentions, batch["input_ids"].shape[1], weights))
    finally:
        model.set_attn_implementation(previous)
    return _merge(rows, _padded(scores), n_words)


def _rollout(attentions: Sequence[torch.Tensor], width: int, weights: torch.Tensor) -> torch.Tensor:
    if not attentions or any(tuple(a.shape[-2:]) != (width, width) for a in attentions):
        raise ModelError("attention rollout needs the model's attention between its input tokens, layer by layer;"
                         " this model's attention covers other positions too (virtual tokens of prefix or prompt"
                         " tuning).", hint="use --method integrated-gradients, gradient-x-input or occlusion.")
    eye = torch.eye(width, device=attentions[0].device)
    rolled = eye.expand(attentions[0].shape[0], width, width)
    for attention in attentions:
        mixed = 0.5 * attention.float().mean(dim=1) + 0.5 * eye
        rolled = (mixed / mixed.sum(dim=-1, keepdim=True)) @ rolled
    queries = weights.sum(dim=-1) if weights.dim() == 3 else torch.nn.functional.one_hot(
        torch.zeros(len(weights), dtype=torch.long, device=weights.device), width).float()
    return (queries.unsqueeze(1) @ rolled).squeeze(1)
