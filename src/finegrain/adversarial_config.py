"""``train.adversarial``: the defence a run trains with, picked by name with its parameters beside it.

FGM, PGD and FreeLB perturb the output of the model's input (word) embedding along the loss gradient;
R-Drop asks two dropout passes to agree. The algorithms live in :mod:`finegrain.training.adversarial`;
this module is only their typed settings, so that the config layer validates them without importing
training.

Example:
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(AdversarialConfig).validate_python("pgd").steps
    3
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from finegrain.registry import suggest

__all__ = ["FgmConfig", "PgdConfig", "FreeLbConfig", "RDropConfig", "AdversarialConfig", "DEFENCE_NAMES"]


class _Defence(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FgmConfig(_Defence):
    """FGM (Miyato et al., 2017): one extra pass on the embeddings moved ``epsilon`` along the gradient."""

    name: Literal["fgm"] = "fgm"
    # L2 radius per example, over all its tokens and dimensions. 0.3: the usual NLP recipe's 1.0 normalises over
    # the whole batch's embedding gradient, about 1/sqrt(batch) per example; 1.0 per example collapsed MiniLM on
    # tweet-sentiment to one class (test macro-F1 0.37 against 0.65 plain; docs/performance.md, defences)
    epsilon: float = Field(0.3, gt=0)


class PgdConfig(_Defence):
    """PGD (Madry et al., 2018), the NLP recipe: ``steps`` ascent steps of size ``alpha`` projected into the
    ``epsilon`` ball; the clean and the last adversarial gradients are summed."""

    name: Literal["pgd"] = "pgd"
    epsilon: float = Field(0.3, gt=0)  # per example, as FGM's (1.0 collapsed MiniLM on tweet-sentiment: 0.36)
    steps: int = Field(3, ge=1)  # 3: the usual NLP setting; each step is one more forward and backward pass
    alpha: float = Field(0.1, gt=0)  # step size: about epsilon / steps, so the ball's edge is reachable


class FreeLbConfig(_Defence):
    """FreeLB (Zhu et al., 2020): ``steps`` ascent steps from a random start, the gradients averaged over them."""

    name: Literal["freelb"] = "freelb"
    epsilon: float = Field(1.0, ge=0)  # the ball's radius; 0: unbounded, as FreeLB's own GLUE runs often were
    steps: int = Field(3, ge=1)  # FreeLB's GLUE settings: 2 or 3
    alpha: float = Field(0.1, gt=0)  # ascent step size (FreeLB's adv-lr: 0.1 for BERT-base)
    init: float = Field(0.1, ge=0)  # norm of the random start (FreeLB's adv-init-mag); 0: start at zero


class RDropConfig(_Defence):
    """R-Drop (Liang et al., 2021): the batch twice, with different dropout masks; their symmetric KL divergence,
    times ``alpha``, is added to the loss."""

    name: Literal["rdrop"] = "rdrop"
    alpha: float = Field(1.0, gt=0)  # R-Drop's GLUE settings: 0.1 to 1.0 (the KL is a mean per example)


_MODELS: tuple[type[_Defence], ...] = (FgmConfig, PgdConfig, FreeLbConfig, RDropConfig)
DEFENCE_NAMES: tuple[str, ...] = tuple(model.model_fields["name"].default for model in _MODELS)


def _named(value: Any) -> Any:
    """``fgm`` for ``{name: fgm}``; an unknown or missing name is refused with the valid ones."""
    if isinstance(value, str):
        value = {"name": value}
    if isinstance(value, dict):
        name = value.get("name")
        if name not in DEFENCE_NAMES:
            found = "no name" if name is None else f"unknown defence {name!r}"
            hint = suggest(name, list(DEFENCE_NAMES)) if isinstance(name, str) else ""
            raise PydanticCustomError("defence_name", "{found}.{hint} Valid names: {names}.",
                                      {"found": found, "hint": hint, "names": ", ".join(DEFENCE_NAMES)})
    return value


AdversarialConfig = Annotated[FgmConfig | PgdConfig | FreeLbConfig | RDropConfig, Field(discriminator="name"),
                              BeforeValidator(_named)]
