"""``finegrain pretrain``: masked-LM pretraining from a YAML config plus dotted overrides.

Example:
    finegrain pretrain configs/pretrain-zh-small.yaml train.max_steps=200
    finegrain pretrain configs/pretrain-continue.yaml --resume
    finegrain pretrain --corpora        # the built-in unlabeled corpora
    finegrain pretrain --preset zh-medium   # build a registered model into the cache (states its time first)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from finegrain.cli.console import make_console
from finegrain.cli.train import split_items
from finegrain.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "pretrain", help="masked-LM pretraining (continue a checkpoint, or a new model from scratch)",
        description="Masked-LM pretraining on unlabeled text. The output folder can then be given as"
        " model.name to 'finegrain train'.",
        epilog="Example: finegrain pretrain configs/pretrain-zh-small.yaml train.max_steps=200")
    parser.add_argument("items", nargs="*", metavar="CONFIG.yaml [section.key=value ...]",
                        help="a YAML config, then dotted overrides such as masking.probability=0.2")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in the output dir")
    parser.add_argument("--overwrite", action="store_true", help="replace the run already in the output dir")
    parser.add_argument("--corpora", action="store_true", help="list the built-in unlabeled corpora and exit")
    parser.add_argument("--preset", metavar="NAME", help="build a registered model (zh-small, zh-medium) into the"
                        " cache with its own settings; prints its expected time first; resumes if interrupted")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    if args.corpora:
        from finegrain.pretraining.corpora import CORPORA

        for name, corpus in CORPORA.items():
            console.print(f"{name:<20} {corpus.language:<3} {corpus.description}", markup=False, highlight=False)
        return 0
    if args.preset:
        return _build_preset(args, console)
    config_path, overrides = split_items(args.items)
    if config_path is None:
        raise ConfigError("No config given.", hint="finegrain pretrain configs/pretrain-zh-small.yaml [key=value ...]")
    from finegrain.pretraining.config import load_pretrain_config

    config = load_pretrain_config(config_path, overrides)  # config errors before the slow imports
    from finegrain.pretraining.runner import run_pretraining

    from finegrain.pretraining.objective import describe_scores

    result = run_pretraining(config, resume=args.resume, overwrite=args.overwrite)
    for name in ("initial", "validation"):
        label = "before" if name == "initial" else "held-out"
        console.print(f"{label:<9} {describe_scores(result.metrics.get(name) or {})}", markup=False, highlight=False)
    console.print(f"output:   {result.output}  (use it as model.name={result.output} in finegrain train)",
                  markup=False, highlight=False)
    return 0


def _build_preset(args: argparse.Namespace, console: Console) -> int:
    from finegrain.pretraining.zoo import PRESETS, build_preset
    from finegrain.registry import suggest

    if args.preset not in PRESETS:
        raise ConfigError(f"Unknown preset '{args.preset}'.{suggest(args.preset, list(PRESETS))}",
                          hint=f"Available: {', '.join(PRESETS)}.")
    if args.items or args.overwrite:
        raise ConfigError(f"--preset {args.preset} builds with its own settings; a config, overrides and"
                          " --overwrite do not apply.", hint="Give a config instead to pretrain with other settings.")
    model_dir = build_preset(args.preset)
    console.print(f"model:    {model_dir}  (use it as model.name={args.preset} in finegrain train)",
                  markup=False, highlight=False)
    return 0
