"""Train only the word-embedding rows a run's texts use: the same weights as dense AdamW, less work.

Every training step gives the word embeddings (30,522 rows for the default model) a dense gradient,
and AdamW reads and writes every row of it and of its two moments, although a batch touches a few
hundred rows. A row that no text of the run contains gets a zero gradient at every step: its AdamW
moments stay zero, so the only change to it is the decoupled weight decay,
``w <- w * (1 - lr_t * weight_decay)``. So during training the embedding is replaced by
:class:`CompactEmbedding`, which trains only the rows the training and validation texts use and counts
the decay product of the optimizer steps taken; ``expanded()`` on what :func:`compact_embeddings`
returns puts the full matrix back (the other rows times that product) whenever the model is saved.
AdamW, gradient clipping (zero rows add nothing to the norm) and the schedule see exactly what they
would see with the dense matrix; the weights agree up to float rounding (tested).
Evidence: benchmarks/results/train_speed_compact.txt.

Not used when the embedding is frozen (methods other than full fine-tuning), or tied to an output layer
(masked-LM pretraining: the softmax over the vocabulary gives every row a gradient), or when FSDP or
DeepSpeed own the parameters (an embedding swapped in to save would bypass them).

Example:
    >>> compact = compact_embeddings(model, [train_features, validation_features])  # doctest: +SKIP
    >>> with compact.expanded():  # the model holds its full, trained embedding matrix here
    ...     model.save_pretrained("out")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from finegrain.training.speedups.base import Applied, Setup

__all__ = ["CompactEmbedding", "compact_embeddings", "apply"]


class CompactEmbedding(nn.Module):
    """The rows ``kept`` of ``full`` as a trainable matrix; input ids are mapped to their row here.

    An id outside ``kept`` (text the run never saw in training or validation) is looked up in the
    full matrix times the decay so far: the value dense training would give it.
    """

    def __init__(self, full: nn.Embedding, kept: torch.Tensor):
        super().__init__()
        lookup = torch.full((full.num_embeddings,), -1, dtype=torch.long, device=kept.device)
        lookup[kept] = torch.arange(len(kept), device=kept.device)
        # Plain attributes, not parameters or buffers: the dense matrix is neither trained nor saved nor
        # broadcast by DDP at each step; _apply moves them with the module (.to(device)).
        object.__setattr__(self, "original", full)
        object.__setattr__(self, "kept", kept)
        object.__setattr__(self, "lookup", lookup)
        self.weight = nn.Parameter(full.weight.detach()[kept].clone())
        padding = -1 if full.padding_idx is None else int(lookup[full.padding_idx])
        self.padding_idx = padding if padding >= 0 else None
        self.register_buffer("decay", torch.ones((), dtype=torch.float64))  # saved in checkpoints (resume)

    def _apply(self, fn: Any, recurse: bool = True) -> CompactEmbedding:
        super()._apply(fn, recurse)
        self.original._apply(fn, recurse)
        object.__setattr__(self, "kept", fn(self.kept))
        object.__setattr__(self, "lookup", fn(self.lookup))
        return self

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows = self.lookup[input_ids]
        out = F.embedding(rows.clamp(min=0), self.weight, self.padding_idx)
        unseen = rows < 0
        if unseen.any():
            decayed = self.original.weight.detach()[input_ids[unseen]] * self.decay.to(self.weight.dtype)
            out = out.masked_scatter(unseen.unsqueeze(-1), decayed.to(out.dtype))
        return out

    def step_taken(self, lr: float, weight_decay: float) -> None:
        """Account for one AdamW step on the rows not kept: they only decay."""
        self.decay *= 1.0 - lr * weight_decay

    def full_weight(self) -> torch.Tensor:
        """The dense matrix as dense training would have it now."""
        weight = self.original.weight.detach() * self.decay.to(self.original.weight.dtype)
        weight[self.kept] = self.weight.detach().to(weight.dtype)
        return weight


class _Compacted:
    """Swaps a model's input embedding for :class:`CompactEmbedding` and back."""

    def __init__(self, model: nn.Module, compact: CompactEmbedding):
        self.model, self.compact = model, compact
        self.tracking: Any = None  # the optimizer hook's handle

    def track(self) -> None:
        """Count the decay of every optimizer step taken on the compact rows, by whichever optimizer holds
        them (a hook on the step itself, PyTorch's public global one: the optimizer is built later)."""
        weight = self.compact.weight

        def after_step(optimizer: torch.optim.Optimizer, *_: Any) -> None:
            group = next((g for g in optimizer.param_groups if any(p is weight for p in g["params"])), None)
            if group is not None:
                self.compact.step_taken(float(group["lr"]), float(group["weight_decay"]))

        self.tracking = register_optimizer_step_post_hook(after_step)

    @contextmanager
    def expanded(self) -> Iterator[nn.Module]:
        """The model with a plain embedding holding the full trained matrix (to save it), then compact again."""
        self.model.set_input_embeddings(self._plain())
        try:
            yield self.model
        finally:
            self.model.set_input_embeddings(self.compact)

    def restore(self) -> None:
        """End of training: a plain embedding with the full trained matrix stays in the model."""
        if self.tracking is not None:
            self.tracking.remove()
        self.model.set_input_embeddings(self._plain())

    def _plain(self) -> nn.Embedding:
        """A new ``nn.Embedding`` like the original, holding the matrix as dense training would have it."""
        original = self.compact.original
        return nn.Embedding(original.num_embeddings, original.embedding_dim, padding_idx=original.padding_idx,
                            _weight=self.compact.full_weight(), _freeze=False)


def compact_embeddings(model: nn.Module, feature_lists: Iterable[list[dict[str, Any]] | None]) -> _Compacted | None:
    """Train only the embedding rows the features use, or None when that does not apply to ``model``."""
    try:
        embedding = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if type(embedding) is not nn.Embedding:  # a subclass may do more than a lookup
        return None
    if not embedding.weight.requires_grad or embedding.sparse or embedding.max_norm is not None:
        return None
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and output.weight is embedding.weight:
        return None  # tied to a vocabulary softmax: every row has a gradient
    used: set[int] = set()
    for features in feature_lists:
        for feature in features or []:
            if "input_ids" not in feature:  # the model reads ids from elsewhere: the used rows are unknown
                return None
            used.update(feature["input_ids"])
    if embedding.padding_idx is not None:
        used.add(embedding.padding_idx)
    kept = torch.tensor(sorted(used), dtype=torch.long, device=embedding.weight.device)
    if len(kept) >= 0.9 * embedding.num_embeddings:
        return None  # little to save
    compact = CompactEmbedding(embedding, kept)
    model.set_input_embeddings(compact)
    return _Compacted(model, compact)


def apply(model: nn.Module, setup: Setup) -> Applied | None:
    """The speed-up's entry: CPU training with the switch on; when resuming, what the checkpoint holds
    decides (whatever the switch or device: its weights load only into the embedding they came from)."""
    wanted = setup.resumed.compact_embeddings if setup.resumed is not None else setup.cpu
    compact = compact_embeddings(model, setup.features) if wanted and not setup.sharded else None
    if compact is None:
        return None
    compact.track()
    return Applied(restore=compact.restore, saving=compact.expanded, state={"compact_embeddings": True})
