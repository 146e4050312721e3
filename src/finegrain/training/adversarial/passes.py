"""The passes a defence runs on one batch: forward (optionally with the input embedding's output moved by a
delta), backward, counted and timed.

The delta is added by a forward hook on the model's input embedding, found when each pass starts
(``get_input_embeddings()``: the word embedding, or the :class:`~finegrain.training.speedups.compact_embeddings.CompactEmbedding`
that stands in for it while the CPU speed-ups train). Perturbing the embedding's output, not its weights,
works whether the embedding trains (full fine-tuning) or is frozen (LoRA, BitFit, adapters, prompt tuning):
the delta is a leaf of its own that gathers the gradient.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
from accelerate import Accelerator
from torch import nn

from finegrain.errors import ModelError
from finegrain.tasks.objective import Objective
from finegrain.training.memory import PeakMemory

__all__ = ["Passes", "Delta", "input_embedding", "perturbed", "unit", "within"]

# A delta, or how to make one from the embedding's output (its shape is known only then): zeros, a random start
Delta = torch.Tensor | Callable[[torch.Tensor], torch.Tensor]


def input_embedding(model: nn.Module, accelerator: Accelerator) -> nn.Module:
    """The module whose output is the token embeddings: the model's own ``get_input_embeddings()``."""
    try:
        return accelerator.unwrap_model(model).get_input_embeddings()
    except (AttributeError, NotImplementedError):
        raise ModelError(f"{type(model).__name__} has no input embedding (get_input_embeddings) to perturb.",
                         hint="train.adversarial fgm, pgd and freelb need a transformers model; rdrop does not.") from None


@contextmanager
def perturbed(module: nn.Module, delta: Delta, on_add: Callable[[torch.Tensor], None]) -> Iterator[None]:
    """Within, ``module``'s output is ``output + delta``; ``on_add`` receives the delta actually added (a
    callable ``delta`` is called with the output first). A second call in one pass is refused: the delta
    would be added twice."""
    calls = 0

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ModelError(f"The input embedding ({type(module).__name__}) ran twice in one forward pass: a delta"
                             " on its output would be added twice.", hint="Train this model without train.adversarial.")
        added = delta(output) if callable(delta) else delta
        on_add(added)
        return output + added.to(output.dtype)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def unit(gradient: torch.Tensor) -> torch.Tensor:
    """``gradient`` divided by each example's L2 norm (over its tokens and dimensions); an example without
    gradient (no labelled token) stays zero, a non-finite one (fp16 overflow: the step is skipped) too."""
    gradient = torch.nan_to_num(gradient.float(), nan=0.0, posinf=0.0, neginf=0.0)
    norms = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)
    return gradient / norms.view(-1, *([1] * (gradient.dim() - 1)))


def within(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``delta`` projected into the L2 ball of radius ``epsilon`` around zero, per example."""
    norms = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (epsilon / norms).clamp(max=1.0).view(-1, *([1] * (delta.dim() - 1)))


def _leaf(delta: Delta) -> Delta:
    """``delta`` as a leaf that gathers its gradient."""
    if callable(delta):
        return lambda output: delta(output).detach().requires_grad_()
    return delta.detach().requires_grad_()


@dataclass
class Passes:
    """Forward and backward passes on one batch as the loop runs them: under accelerate's autocast (the model
    is prepared), backward through ``accelerator.backward`` (loss scaling, gradient accumulation). Every
    pass but a batch's last skips DDP's gradient sync, so the gradients of all passes are reduced once."""

    accelerator: Accelerator
    objective: Objective
    memory: PeakMemory
    forwards: int = 0
    backwards: int = 0
    first_pass_seconds: float = 0.0  # the first forward and backward of each batch: what a plain step runs
    _first: bool = False  # set by new_batch: only a defence's batches are timed

    def new_batch(self) -> None:
        """The next pass is a new batch's first: time it."""
        self._first = True

    def run(self, model: nn.Module, batch: dict[str, torch.Tensor], delta: Delta | None = None, *,
            last: bool, weight: float = 1.0, gather: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Forward, the task loss, backward of ``weight`` x loss into the parameters' gradients. Returns the
        loss (detached) and, with ``gather`` (and a ``delta``), the delta added, as a leaf whose ``.grad`` the
        backward pass filled."""
        started = self.clock() if self._first else 0.0
        added: list[torch.Tensor] = []
        with self._sync(model, last):
            loss = self._loss(model, batch, _leaf(delta) if gather else delta, added.append)
            self.accelerator.backward(loss * weight if weight != 1.0 else loss)
        self.backwards += 1
        self.memory.sample()  # the gradients
        if self._first:
            self.first_pass_seconds += self.clock() - started
            self._first = False
        return loss.detach(), (added[0] if gather else None)

    def delta_gradient(self, model: nn.Module, batch: dict[str, torch.Tensor], delta: torch.Tensor) -> torch.Tensor:
        """d loss / d delta only: the parameters' gradients are neither computed nor touched."""
        leaf = delta.detach().requires_grad_()
        with self._sync(model, last=False):
            loss = self._loss(model, batch, leaf, lambda _: None)
            scaler = self.accelerator.scaler  # fp16: scaled as accelerate scales it, or small gradients vanish
            (gradient,) = torch.autograd.grad(loss * scaler.get_scale() if scaler is not None else loss, leaf)
        self.backwards += 1
        return gradient

    def logits(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The objective's logits for ``batch`` (a defence that computes its own loss from them)."""
        logits = self.objective.forward(model, batch)
        self.forwards += 1
        self.memory.sample()  # the activations are all held here
        return logits

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of a loss a defence computed, as the batch's last pass."""
        self.accelerator.backward(loss)
        self.backwards += 1
        self.memory.sample()

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor], delta: Delta | None,
              on_add: Callable[[torch.Tensor], None]) -> torch.Tensor:
        with nullcontext() if delta is None else perturbed(input_embedding(model, self.accelerator), delta, on_add):
            logits = self.logits(model, batch)
        return self.objective.loss(logits, batch)

    def _sync(self, model: nn.Module, last: bool):
        return nullcontext() if last else self.accelerator.no_sync(model)

    def clock(self) -> float:
        if self.accelerator.device.type == "cuda":  # kernels run asynchronously: wait for them before reading
            torch.cuda.synchronize(self.accelerator.device)
        return time.perf_counter()
