"""``finegrain robustness``: how a run's predictions hold up under label-preserving perturbations, directional and
minimum-functionality tests, and offline adversarial attacks.

Writes ``robustness.json`` and ``robustness.md`` into the run folder (and the section into its ``report.md``).

Example:
    finegrain robustness runs/reviews-full --attack char,synonym,embedding --limit 200
    finegrain robustness runs/reviews-tfidf --suite negation.yaml --data test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from finegrain.cli.options import add_base_option
from finegrain.errors import DataError

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "robustness", help="invariance/directional tests and offline attacks on a run's predictions",
        description="Perturb a run's labelled test inputs (typos, misspellings, case, punctuation, contractions,"
        " URLs, handles, emoji, name swaps; NER: entity swaps), run the directional and minimum-functionality tests"
        " of a suite YAML, and attack the inputs it predicts correctly; write robustness.json and robustness.md.",
        epilog="Example: finegrain robustness runs/reviews-full --attack char,synonym --limit 200")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the output directory of 'finegrain train'")
    parser.add_argument("--suite", default="default", metavar="default|FILE",
                        help="'default' (every invariance test) or a suite YAML with inv, dir and mft tests")
    parser.add_argument("--attack", default="", metavar="NAMES",
                        help="comma-separated attacks: char (DeepWordBug edits), synonym (WordNet, PWWS), embedding"
                             " (neighbours in the model's input embeddings; runs the training loop trained); default"
                             " none")
    parser.add_argument("--data", metavar="SPLIT|FILE",
                        help="the run's validation or test split, or a labelled file (default: test, else validation)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="use N examples only, drawn at random (stratified; the same N every time)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbations and attacks (default 0)")
    parser.add_argument("--max-share", type=float, default=0.25, metavar="F",
                        help="attacks change at most this share of an input's words (default 0.25)")
    parser.add_argument("--min-similarity", type=float, default=0.8, metavar="F",
                        help="attacked texts keep at least this MiniLM cosine similarity to the original (default"
                             " 0.8; 0 turns the floor off)")
    add_base_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite and attacks, write the files, print the summary."""
    from finegrain.api import load  # heavy (torch, transformers)
    from finegrain.robustness.attacks import Constraints
    from finegrain.robustness.report import render_section, write_section
    from finegrain.robustness.runner import check_attacks, check_limit, robustness
    from finegrain.robustness.suites import default_suite, load_suite

    constraints = _constraints(args, Constraints)
    suite = default_suite() if args.suite == "default" else load_suite(args.suite)
    predictor = load(args.run_dir, base=args.base)
    attacks = check_attacks(predictor, [name.strip() for name in args.attack.split(",") if name.strip()])
    split, where = _split(predictor, args.data)
    split = check_limit(predictor.task.check(split), args.limit, where, predictor.task.stratify)
    result = robustness(predictor, split, suite, attacks, constraints, seed=args.seed)
    out = Path(args.run_dir)
    text = render_section(result)
    try:
        (out / "robustness.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str),
                                             encoding="utf-8")
        write_section(out, text)
    except OSError as error:
        raise DataError(f"cannot write the results: {error.strerror or error}.", where=str(out),
                        hint="run it on a run folder you can write to.") from None
    _print(text, out)
    return 0


def _constraints(args: argparse.Namespace, constraints: Any) -> Any:
    if not 0 < args.max_share <= 1:
        raise DataError(f"--max-share is a share of words in (0, 1], not {args.max_share}.", where="--max-share",
                        hint="e.g. --max-share 0.25")
    if not 0 <= args.min_similarity <= 1:
        raise DataError(f"--min-similarity is a cosine in [0, 1], not {args.min_similarity}.",
                        where="--min-similarity", hint="e.g. --min-similarity 0.8, or 0 for no floor")
    return constraints(max_share=args.max_share, min_similarity=args.min_similarity)


def _split(predictor: Any, data: str | None) -> tuple[Any, str]:
    """The labelled split to test: one of the run's own (default test, else validation), or a file."""
    from finegrain.training.predictor import run_splits

    splits = run_splits(predictor)
    if data is None:
        for name in ("test", "validation"):
            if name in splits:
                return splits[name], f"the run's {name} split"
        raise DataError("the run has no validation or test split to test robustness on.", where="--data",
                        hint="give --data FILE, a labelled file in the run's format.")
    if data in splits:
        return splits[data], f"the run's {data} split"
    if data in ("validation", "test"):
        raise DataError(f"the run has no '{data}' split; it has: {', '.join(splits) or 'none'}.", where="--data",
                        hint="give another split, or a labelled file.")
    from finegrain.api import EVAL_OPTIONS
    from finegrain.data.sources import load_source
    from finegrain.training.setup import foreign_columns

    chosen = predictor.config.data.chosen_columns(predictor.task.data_columns)
    split = load_source(data, "test", predictor.task.columns(chosen), options=EVAL_OPTIONS,
                        tag_column=predictor.config.data.tag_column, foreign=foreign_columns(predictor.task))
    return split, data


def _print(text: str, out: Path) -> None:
    from rich.markdown import Markdown

    from finegrain.cli.console import make_console

    console = make_console()
    console.print(Markdown(text))
    console.print(f"wrote {out / 'robustness.json'} and {out / 'robustness.md'}")
