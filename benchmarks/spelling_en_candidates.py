"""Where the word-level model could help symspellpy, offline, on a kept run (``spelling_en.py --keep DIR``): for each
word of the validation and test splits that symspellpy's dictionary does not know and has a suggestion for,
which correction each rule picks, counted as word correction rate and over-correction rate over the same words
the ``symspell`` baseline looks at (letters only, three at least, not all capitals).

Rules: ``symspell`` (its closest, most frequent word), ``A`` (the model's best-ranked symspell candidate among its
top 20 labels, else symspell's), ``B`` (A, but a capitalised word inside a sentence is left alone as a name),
``symspell+B-rule`` (symspell with B's name rule).

    python benchmarks/spelling_en_candidates.py /tmp/en_keep/full
"""

from __future__ import annotations

import sys

import finegrain
from finegrain.tasks.spelling.candidates import symspell, symspell_candidates
from finegrain.tasks.spelling.words import is_word, words
from finegrain.training.predictor import run_splits


def main(run: str) -> None:
    from symspellpy import Verbosity

    predictor = finegrain.load(run)
    names = list(predictor.labels.names)

    def closest(word: str) -> str | None:
        best = symspell().lookup(word.lower(), Verbosity.CLOSEST, max_edit_distance=2)
        return best[0].term if best and best[0].distance > 0 else None

    for split_name, split in run_splits(predictor).items():
        split = predictor.task.check(split)
        features, logits = predictor.logits(split)
        sources, targets = split.frame["source"].tolist(), split.frame["target"].tolist()
        counts = {rule: [0, 0] for rule in ("symspell", "A", "B", "symspell+B-rule")}
        wrong_words = right_words = in_top = 0
        for feature, values in zip(features, logits):
            written, wanted = words(sources[feature["example"]]), words(targets[feature["example"]])
            if len(written) != len(wanted):
                continue
            k = values.shape[1] // 2
            for position, index in enumerate(feature["first"]):
                if index is None:
                    continue
                source, target = written[index], wanted[index]
                k_labels = {names[int(label)] for label in values[position, :values.shape[1] // 2]}
                in_top += source != target and target.lower() in k_labels
                wrong_words += source != target
                right_words += source == target
                if not (is_word(source) and len(source) >= 3 and source.isalpha() and not source.isupper()):
                    continue
                candidates = symspell_candidates(source)
                suggestion = closest(source)
                if source.lower() in candidates or suggestion is None:
                    continue
                top = [names[int(label)] for label in values[position, :k]]
                ranked = [name for name in top if name in candidates and name != source.lower()]
                name_like = source[0].isupper() and index > 0 and written[index - 1] not in ".!?\"'"
                picks = {"symspell": suggestion, "A": ranked[0] if ranked else suggestion,
                         "B": None if name_like else (ranked[0] if ranked else suggestion),
                         "symspell+B-rule": None if name_like else suggestion}
                for rule, pick in picks.items():
                    if pick is not None and source != target:
                        counts[rule][0] += pick == target.lower()
                    elif pick is not None:
                        counts[rule][1] += 1
        print(f"{split_name}: {wrong_words} misspelled words, {right_words} correct words; the right word is among"
              f" the model's top labels for {in_top} ({in_top / wrong_words:.1%}) of the misspelled ones")
        for rule, (fixed, changed) in counts.items():
            print(f"  {rule:18s} fixed {fixed / wrong_words:.4f}  over-corr {changed / right_words:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
