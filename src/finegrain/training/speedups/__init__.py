"""CPU training speed-ups, applied once at setup by one context manager; the loop names none of them.

``train.cpu_speedups: auto`` (the default) applies each speed-up below where it applies: CPU training
(and, for compact embeddings, a resumed checkpoint that holds one). ``off`` trains PyTorch's and
transformers' own modules, the path a GPU run takes. Each speed-up is one module here and one entry in
:data:`SPEEDUPS`; a speed-up is kept while a paired benchmark shows it pays at least ~3% end to end
(``python benchmarks/speedups_ab.py``; figures in docs/performance.md, raw output in
benchmarks/results/speedups_ab.txt). Two were deleted by that rule (git keeps them): the glibc allocator
setting and a one-node encoder layer, which drew its own masks and so stood in for ``cpu_dropout``.

What each relies on, and the tests that guard it:

``compact_embeddings`` (compact_embeddings.py): AdamW with decoupled weight decay, so that a row no text
    of the run uses only decays; a plain, trainable, untied ``nn.Embedding``; the training and validation
    features hold the ids the run reads (others read the decayed full matrix); the checkpoint records the
    compact form (``TrainerState.compact_embeddings``) and every save is of the full matrix. Guarded by
    tests/unit/test_compact_embeddings.py (dense AdamW's weights, also through the whole loop; a run saves
    what a dense run saves) and
    tests/unit/test_resume_and_distributed.py (a resumed run equals an uninterrupted one).
``cpu_dropout`` (cpu_dropout.py, masks.py): every mask is a function of torch's default generator (one
    draw seeds a PCG64 per forward pass), so seeds fix the masks and resumes draw the same ones; the
    attention function registered with transformers' ``AttentionInterface`` and selected by
    ``set_attn_implementation`` does SDPA's math and falls back to SDPA for anything unusual; nothing
    saved changes. Guarded by tests/unit/test_cpu_dropout.py, tests/unit/test_speedups.py (one draw from
    torch's generator per forward pass) and the resume test above.

The seam itself (auto applies and restores, off leaves the model as built, a failed run gets its own
modules back) is guarded by tests/unit/test_speedups.py; tests/contract trains full and LoRA on
classification and NER with ``off`` beside the default ``auto``.

Example:
    >>> with apply_speedups(model, "auto", accelerator=accelerator,  # doctest: +SKIP
    ...                     features=[train_features, validation_features]) as speedups:
    ...     train(model, save=speedups.saving(save_best))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Literal

from accelerate import Accelerator
from torch import nn

from finegrain.training.checkpoint import TrainerState
from finegrain.training.distributed import weights_sharded
from finegrain.training.speedups import compact_embeddings, cpu_dropout
from finegrain.training.speedups.base import Applied, Setup, Speedup
from finegrain.training.speedups.masks import stream_per_forward_pass

__all__ = ["SPEEDUPS", "Speedups", "apply_speedups", "disabled", "Setup", "Applied", "Speedup"]

SPEEDUPS: tuple[Speedup, ...] = (  # applied in this order, restored in the reverse one
    Speedup("compact_embeddings", compact_embeddings.apply),
    Speedup("cpu_dropout", cpu_dropout.apply),
)

SaveModel = Callable[[nn.Module], None]


class Speedups:
    """What the loop's setup gets from :func:`apply_speedups`: the names applied and two generic hooks."""

    def __init__(self, applied: dict[str, Applied]):
        self.applied = applied

    @property
    def names(self) -> list[str]:
        return list(self.applied)

    def saving(self, save: SaveModel) -> SaveModel:
        """``save`` called with the model in its stock form (what a run directory holds)."""
        def stock_save(model: nn.Module) -> None:
            with ExitStack() as stack:
                for applied in self.applied.values():
                    stack.enter_context(applied.saving())
                save(model)

        return stock_save

    def record(self, state: TrainerState) -> None:
        """Write into ``state`` what its checkpoint will hold in another form than the stock model's."""
        for applied in self.applied.values():
            for key, value in applied.state.items():
                setattr(state, key, value)


@contextmanager
def apply_speedups(model: nn.Module, setting: Literal["auto", "off"], *, accelerator: Accelerator,
                   features: list[list[dict[str, Any]] | None], resumed: TrainerState | None = None
                   ) -> Iterator[Speedups]:
    """Within, ``model`` trains with the speed-ups that apply (see the module docstring); on leaving,
    however the block ends, it has its own modules back (holding the trained weights)."""
    setup = Setup(accelerator.device, setting == "auto", weights_sharded(accelerator), tuple(features), resumed)
    applied: dict[str, Applied] = {}
    try:
        for speedup in SPEEDUPS:
            result = speedup.apply(model, setup)
            if result is not None:
                applied[speedup.name] = result
        if any(result.draws_masks for result in applied.values()):  # one seeding per forward pass, not per mask
            applied["masks"] = Applied(restore=stream_per_forward_pass(model))
        yield Speedups({name: result for name, result in applied.items() if name != "masks"})
    finally:
        for result in reversed(applied.values()):
            result.restore()


@contextmanager
def disabled(*names: str) -> Iterator[None]:
    """Within, the named speed-ups do not apply: for benchmarks and tests that measure one against the rest."""
    global SPEEDUPS
    known = [speedup.name for speedup in SPEEDUPS]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"Unknown speed-up(s) {', '.join(unknown)}. Available: {', '.join(known)}.")
    kept = SPEEDUPS
    SPEEDUPS = tuple(speedup for speedup in kept if speedup.name not in names)
    try:
        yield
    finally:
        SPEEDUPS = kept
