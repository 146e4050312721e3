"""Offline check: does a trained neural spelling model add to the character n-gram LM, and at which weight?
(Method ``lm-fusion`` builds this in with one weight; this sweeps several on a kept model.)

Per position, every confusion-set candidate c of the written character w is scored
``a * (log p_model(c) - log p_model(w)) + b * LM gain``, the LM being ``char-ngram``'s trigram model counted on
the zh-spelling-synth training targets and the corpora of ``configs/spelling-zh-ngram.yaml``. The best candidate
is accepted above a threshold tuned on the synthetic validation split (F-beta), then sighan15-test is scored
with finegrain's metrics. Edits are independent (the char-ngram method corrects left to right on its own
corrections, so its numbers differ a little).

    python benchmarks/spelling_zh_hybrid.py RUN/model     # RUN: a finished spelling run, e.g. albert-tiny-zh
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

from finegrain.config import load_config
from finegrain.data.confusion_sets import confusion_sets
from finegrain.data.labels import LabelMap
from finegrain.data.spelling_sets import VALIDATION_SENTENCES, _read_synth, read_sighan15
from finegrain.methods.estimators.char_ngram import CharNgram
from finegrain.pretraining.corpus import deduplicate, read_sources
from finegrain.tasks.spelling.decoding import best_threshold
from finegrain.tasks.spelling.encoding import char_tokens
from finegrain.tasks.spelling.metrics import spelling_metrics
from finegrain.tasks.spelling.model import build_spelling_model

NGRAM_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "spelling-zh-ngram.yaml"
WEIGHTS = [(1, 0), (0, 1), (1, 0.25), (1, 0.5), (1, 1), (0.5, 1), (0.25, 1)]  # (a, b)


def candidate_scores(frame, lm, tokenizer, model) -> list[list[tuple[int, list[tuple[str, float, float]]]]]:
    """Per sentence, per scored position: (character offset, [(candidate, model log-ratio, LM gain)])."""
    sets, vocabulary = confusion_sets(), tokenizer.get_vocab()
    candidates = {char: sets.candidates(char) for char in set("".join(frame.source))}
    scored = []
    for text in frame.source:
        ids, chars = char_tokens(tokenizer, [text])[0]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([[tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]])).logits
        log_probs = logits[0, 1:-1, 1:].float().log_softmax(-1)  # column 0 is the detection unit
        position_of = {char: k for k, char in enumerate(chars)}
        positions = []
        for char, gains in lm.gains(text, candidates):
            k = position_of.get(char)
            if k is None or ids[k] == tokenizer.unk_token_id:
                continue
            found = [(c, float(log_probs[k, vocabulary[c]] - log_probs[k, ids[k]]), gain)
                     for c, gain in gains if c in vocabulary]
            if found:
                positions.append((char, found))
        scored.append(positions)
    return scored


def proposals(scored, a: float, b: float) -> list[list[tuple[float, int, str]]]:
    """Per sentence: (score, offset, best candidate) at each scored position."""
    return [[(score, char, best) for char, candidates in positions
             for best, score in [max(((c, a * d + b * g) for c, d, g in candidates), key=lambda z: z[1])]]
            for positions in scored]


def corrected(frame, found, threshold: float) -> list[str]:
    texts = []
    for text, props in zip(frame.source, found):
        chars = list(text)
        for score, char, candidate in props:
            if score > threshold:
                chars[char] = candidate
        texts.append("".join(chars))
    return texts


def tuned_threshold(frame, found, beta: float) -> float | None:
    scored, gold = [], 0
    for source, target, props in zip(frame.source, frame.target, found):
        if len(source) == len(target):
            gold += sum(x != y for x, y in zip(source, target))
            scored += [(score, target[char] == candidate) for score, char, candidate in props]
    return best_threshold(scored, gold, beta)


def main() -> None:
    torch.set_num_threads(1)
    path = sys.argv[1]
    synth = _read_synth()
    validation, train = synth.iloc[:VALIDATION_SENTENCES], synth.iloc[VALIDATION_SENTENCES:]
    corpora = load_config(NGRAM_CONFIG).component_params("method").corpora
    lm = CharNgram().fit(train.target.tolist() + deduplicate(read_sources(corpora, "text")))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = build_spelling_model(path, LabelMap.from_values(["correct", "wrong"])).train(True)
    for module in model.modules():  # train mode gives the whole vocabulary's logits; dropout off
        if isinstance(module, torch.nn.Dropout):
            module.p = 0
    started, sighan = time.time(), read_sighan15()
    scored = {"validation": candidate_scores(validation, lm, tokenizer, model),
              "sighan": candidate_scores(sighan, lm, tokenizer, model)}
    print("scored in", round(time.time() - started), "s", flush=True)
    for a, b in WEIGHTS:
        on_validation, on_sighan = proposals(scored["validation"], a, b), proposals(scored["sighan"], a, b)
        for beta in (0.5, 1.0):
            threshold = tuned_threshold(validation, on_validation, beta)
            mv = spelling_metrics(validation.source.tolist(), validation.target.tolist(),
                                  corrected(validation, on_validation, threshold))
            ms = spelling_metrics(sighan.source.tolist(), sighan.target.tolist(),
                                  corrected(sighan, on_sighan, threshold))
            print(f"a={a} b={b} beta={beta} tau={threshold:.2f} val C-F1 {mv['correction_f1']:.3f}"
                  f" | sighan C-F1 {ms['correction_f1']:.3f} lenient {ms['lenient']['f1']:.3f}"
                  f" FPR {ms['false_positive_rate']:.3f}", flush=True)


if __name__ == "__main__":
    main()
