"""``finegrain train``: a run from a YAML config and/or flags and dotted overrides.

Example:
    finegrain train configs/bbc.yaml train.lr=1e-4 --epochs 2
    finegrain train --data bbc-news --method lora --output runs/bbc-lora
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from finegrain.cli.console import make_console, print_metrics
from finegrain.config import load_config
from finegrain.errors import ConfigError

__all__ = ["add_parser", "run", "split_items", "flag_overrides", "default_output"]

# flag destination -> dotted config key
_FLAG_KEYS = {
    "data": "data.train", "validation": "data.validation", "test": "data.test", "method": "method.name",
    "model": "model.name", "task": "task.name", "epochs": "train.epochs", "lr": "train.lr",
    "batch_size": "train.batch_size", "max_length": "model.max_length", "seed": "train.seed", "output": "output",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a run", description="Train a run. Flags and KEY=VALUE overrides are applied on top"
        " of CONFIG (flags last). Without CONFIG, --data is required.",
        epilog="Example: finegrain train --data bbc-news --method lora train.epochs=2")
    parser.add_argument("items", nargs="*", metavar="[CONFIG.yaml] [section.key=value ...]",
                        help="an optional YAML config, then dotted overrides such as train.lr=1e-4")
    parser.add_argument("--data", help="training data: a file or a built-in dataset name (data.train)")
    parser.add_argument("--validation", help="validation data: file or NAME:split (data.validation)")
    parser.add_argument("--test", help="test data: file or NAME:split (data.test)")
    parser.add_argument("--method", help="adaptation method, e.g. full, lora (method.name)")
    parser.add_argument("--model", help="registered model name or a local model folder (model.name)")
    parser.add_argument("--task", help="task name, e.g. classification (task.name)")
    parser.add_argument("--epochs", type=float, help="train.epochs")
    parser.add_argument("--lr", type=float, help="learning rate (train.lr)")
    parser.add_argument("--batch-size", type=int, help="train.batch_size")
    parser.add_argument("--max-length", type=int, help="tokens per text (model.max_length)")
    parser.add_argument("--seed", type=int, help="train.seed")
    parser.add_argument("--output", help="run directory (output); default runs/<data>-<method>")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in the output dir")
    parser.add_argument("--overwrite", action="store_true", help="replace the run already in the output dir")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate the config, train, print the metrics and where the run was written."""
    config_path, overrides = split_items(args.items)
    overrides = overrides + flag_overrides(args)
    source: str | dict[str, Any] = config_path if config_path is not None else {}
    if config_path is None:
        output = default_output(overrides)
        if output is not None:
            overrides.append(f"output={json.dumps(output)}")

    config = load_config(source, overrides)  # config errors come before the slow imports below
    from finegrain.api import train  # heavy (torch, transformers): only once a run is really asked for

    result = train(config, resume=args.resume, overwrite=args.overwrite)
    console = make_console()
    print_metrics(console, result.metrics, config.task.name)
    run_dir = Path(result.run_dir)
    console.print(f"run directory: {run_dir}", markup=False, highlight=False)
    console.print(f"report:        {run_dir / 'report.md'}", markup=False, highlight=False)
    console.print(f"model:         {run_dir / 'model'}", markup=False, highlight=False)
    return 0


def split_items(items: list[str]) -> tuple[str | None, list[str]]:
    """Separate the config path (the one item without '=') from the ``key=value`` overrides."""
    paths = [item for item in items if "=" not in item]
    if len(paths) > 1:
        raise ConfigError(
            f"Expected at most one config file, got {len(paths)}: {', '.join(paths)}.",
            hint="Give one CONFIG.yaml; write overrides as section.key=value (e.g. train.lr=1e-4).")
    return (paths[0] if paths else None), [item for item in items if "=" in item]


def flag_overrides(args: argparse.Namespace) -> list[str]:
    """Dotted overrides for the flags given; strings are quoted so 'yes' or '1.0' stay text."""
    overrides = []
    for dest, key in _FLAG_KEYS.items():
        value = getattr(args, dest)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
    return overrides


def default_output(overrides: list[str]) -> str | None:
    """``runs/<data-name>-<method>`` when no config file is given; None if output is set already."""
    values = {key: value for key, _, value in (item.partition("=") for item in overrides)}
    if "output" in values:
        return None
    data = values.get("data.train")
    if data is None:
        raise ConfigError("No training data: without a config file, --data is required.",
                          hint="Add --data FILE_OR_BUILTIN_NAME (see 'finegrain data list'), or give a CONFIG.yaml.")
    method = _unquote(values.get("method.name", values.get("method", "full")))
    name = Path(_unquote(data)).stem if _looks_like_file(_unquote(data)) else _unquote(data)
    return str(Path("runs") / f"{name.replace(':', '-')}-{method}")


def _unquote(value: str) -> str:
    try:
        loaded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return loaded if isinstance(loaded, str) else value


def _looks_like_file(spec: str) -> bool:
    return Path(spec).suffix != "" or "/" in spec
