"""How a run names its base model so that it loads again after being moved or copied.

Adapter runs (LoRA, IA3, prefix, prompt, bottleneck adapters, ...) and ``embeddings-lr`` keep only
what they trained; the base model is loaded again when the run is used. They record a *reference*
to it, never a machine-specific absolute path (the default model lives inside one virtual
environment's site-packages):

- a registered name (``default``, ``zh-small``): found again through the catalog;
- a hub name (``org/model``): as given;
- a local folder: its path relative to the run directory, always starting with ``./`` or ``../``
  so that it cannot be mistaken for a hub name. The absolute path it had is kept in ``run.json``
  as a hint, tried when the relative one fails.

Example:
    >>> portable_reference("models/tiny", "/work/models/tiny", Path("/work/runs/lora"))  # doctest: +SKIP
    '../../models/tiny'
    >>> locate_base("../../models/tiny", Path("/elsewhere/runs/lora"))  # doctest: +SKIP
    '/elsewhere/models/tiny'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from finegrain.errors import ModelError
from finegrain.models.catalog import ModelEntry, resolve_model
from finegrain.registry import MODELS

__all__ = ["portable_reference", "locate_base", "is_run_relative", "registered_language",
           "registered_description", "BASE_OPTION_HINT"]

BASE_OPTION_HINT = "--base PATH (finegrain predict, eval, serve, export) or finegrain.load(run, base=PATH)"
"""How a user points a run at its base model; every message about a missing base names it."""


def portable_reference(model_name: str, resolved: str, run_dir: Path) -> str:
    """What a run records for the base model ``model_name`` (as configured) found at ``resolved``.

    ``run_dir`` is where the run will live once finished (its relative path is taken from there).
    """
    if model_name in MODELS:
        return MODELS.canonical(model_name)
    folder = Path(resolved)
    if not folder.is_dir():
        return resolved  # a hub name: transformers finds it by name
    try:
        relative = os.path.relpath(folder.resolve(), Path(run_dir).resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return str(folder.resolve())
    relative = Path(relative).as_posix()
    return relative if is_run_relative(relative) else f"./{relative}"


def is_run_relative(reference: str) -> bool:
    return reference.startswith(("./", "../")) or reference in (".", "..")


def registered_language(reference: str | None) -> str | None:
    """The language code of a registered model (``en`` for the default's "en (uncased)"), else None."""
    entry = _entry(reference)
    language = entry.language if entry is not None else ""
    return language.split()[0] if language else None


def registered_description(reference: str | None) -> str | None:
    """What a registered model is, in the catalog's words; None for other references."""
    entry = _entry(reference)
    return entry.description if entry is not None else None


def _entry(reference: str | None) -> ModelEntry | None:
    return MODELS.get(reference) if reference is not None and reference in MODELS else None


def locate_base(recorded: str | None, run_dir: Path, *, base: str | None = None, hints: Sequence[str] = ()) -> str:
    """A loadable model location for the base a run recorded; ``base`` (the user's choice) wins.

    ``hints`` are tried after ``recorded``: the absolute folder the run trained from and the
    configured registered name, so runs saved before references existed still load.
    """
    if base is not None:
        try:
            return resolve_model(base)
        except ModelError as error:
            raise ModelError(f"The base model given (--base / base=) cannot be used: {error.message}",
                             hint="Give the folder (with config.json) of the model the run was trained on.") from None
    tried: list[str] = []
    for reference in dict.fromkeys(item for item in (recorded, *hints) if item):
        found = _find(reference, Path(run_dir), tried)
        if found is not None:
            return found
    shown = recorded or next(iter(hints), "no base model")
    expected = f" (expected at '{(Path(run_dir) / shown).resolve()}')" if is_run_relative(shown) else ""
    raise ModelError(
        f"The base model of the run '{run_dir}' was not found: the run records '{shown}'{expected}."
        f" Looked for: {'; '.join(tried) or 'nothing'}.",
        hint=f"Put the base model folder back where the run expects it, or point at it: {BASE_OPTION_HINT}.",
    )


def _find(reference: str, run_dir: Path, tried: list[str]) -> str | None:
    """Where ``reference`` is now, or None (with what was tried appended to ``tried``)."""
    if reference in MODELS:
        try:
            return resolve_model(reference)
        except ModelError as error:
            tried.append(f"the registered model '{reference}' ({error.message})")
            return None
    if is_run_relative(reference):
        folder = (run_dir / reference).resolve()
        if (folder / "config.json").is_file():
            return str(folder)
        tried.append(f"'{reference}' relative to the run, i.e. '{folder}'")
        return None
    folder = Path(reference).expanduser()
    if (folder / "config.json").is_file():
        return str(folder.resolve())
    if folder.is_absolute() or folder.exists():
        tried.append(f"the folder '{reference}'")
        return None
    try:
        return resolve_model(reference)  # a hub name, when the network is allowed
    except ModelError as error:
        tried.append(f"'{reference}' ({error.message})")
        return None
