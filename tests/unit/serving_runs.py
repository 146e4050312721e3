"""Tiny trained runs for the export and serving tests: classification (single, multi-label), NER and pairs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import finegrain
from finegrain.tasks.ner.tiny import write_conll
from finegrain.tasks.pair.tiny import tiny_dataset as pair_dataset
from finegrain.tasks.grammar.tiny import tiny_dataset as grammar_dataset
from finegrain.tasks.spelling.tiny import make_word_spelling_rows
from finegrain.tasks.spelling.tiny import tiny_dataset as spelling_dataset

__all__ = ["write_conll", "write_multi_label", "train_tiny"]


def write_multi_label(path: Path, n: int, seed: int) -> str:
    rng = random.Random(seed)
    words = {"pos": "good great", "neg": "bad awful", "neu": "table chair"}
    rows = []
    for _ in range(n):
        labels = sorted(rng.sample(list(words), rng.randint(1, 2)))
        rows.append({"text": " ".join(words[name] for name in labels) + " the movie", "label": "|".join(labels)})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


_TRAINED: dict[tuple, Path] = {}  # shared by the serving test modules of one session


def train_tiny(tmp_path_factory, model_dir: Path, sentiment_files: dict[str, Path], *, kind: str = "classification",
               method: str = "full", steps: int = 60, **params) -> Path:
    """A few fp32 steps on the tiny BERT, once per session; ``kind`` is classification, multi-label, ner, pair or
    spelling."""
    key = (kind, method, steps, tuple(sorted(params.items())))
    if key not in _TRAINED:
        _TRAINED[key] = _train(tmp_path_factory.mktemp(f"{kind}-{method}"), model_dir, sentiment_files, kind,
                               method, steps, params)
    return _TRAINED[key]


def _train(root: Path, model_dir: Path, sentiment_files: dict[str, Path], kind: str, method: str, steps: int,
           params: dict) -> Path:
    task: dict = {"name": {"ner": "ner", "pair": "pair-classification", "spelling": "spelling",
                           "spelling-words": "spelling", "grammar": "grammar"}.get(kind, "classification")}
    if kind == "ner":
        data = {name: write_conll(root / f"{name}.conll", n, seed)
                for name, n, seed in (("train", 120, 1), ("validation", 30, 2))}
    elif kind == "multi-label":
        task["multi_label"] = True
        data = {name: write_multi_label(root / f"{name}.jsonl", n, seed)
                for name, n, seed in (("train", 120, 1), ("validation", 30, 2))}
    elif kind == "pair":
        data = {name: path for name, path in pair_dataset(root).items() if name != "test"}
    elif kind == "spelling":  # threshold 0: every proposal accepted, so even a tiny model's page shows edits
        task["threshold"] = 0.0
        data = {name: path for name, path in spelling_dataset(root).items() if name != "test"}
    elif kind == "spelling-words":  # English words; threshold 0 as above
        task.update(level="word", threshold=0.0, vocabulary_size=40)
        data = {}
        for name, n, seed in (("train", 120, 1), ("validation", 30, 2)):
            rows = make_word_spelling_rows(n, seed)
            data[name] = str(root / f"{name}.jsonl")
            Path(data[name]).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif kind == "grammar":  # $KEEP's probability lowered by 1: even a tiny model's page shows edits
        task["confidence_bias"] = -1.0
        data = {name: path for name, path in grammar_dataset(root).items() if name != "test"}
    else:
        data = {name: str(sentiment_files[name]) for name in ("train", "validation")}
    return finegrain.train({
        "task": task, "model": {"name": str(model_dir), "max_length": 32},
        "method": {"name": method, **params}, "data": data,
        "train": {"max_steps": steps, "batch_size": 16, "lr": 1e-2 if method != "full" else 5e-3,
                  "precision": "fp32", "log_every": 10, "warmup": 0.0},
        "output": str(root / "run"),
    }).run_dir
