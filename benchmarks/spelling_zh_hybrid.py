"""Offline check, not a finegrain feature: does a trained neural spelling model add to the character n-gram LM?

Per position, every confusion-set candidate c of the written character w is scored
``a * (log p_model(c) - log p_model(w)) + b * LM gain`` (the trigram LM of ``char-ngram`` counted on the
zh-spelling-synth training targets and the training text of six other Chinese built-ins, as
configs/spelling-zh-ngram.yaml does); the best candidate is accepted above a threshold tuned on the synthetic
validation split (F-beta), then sighan15-test is scored with finegrain's metrics. Edits are independent (the
char-ngram method corrects left to right on its own corrections, so its numbers differ a little).

    python benchmarks/spelling_zh_hybrid.py RUN/model     # RUN: a finished spelling run, e.g. albert-tiny-zh
"""
import sys, time
import torch
from transformers import AutoTokenizer
from finegrain.data.labels import LabelMap
from finegrain.data.spelling_sets import VALIDATION_SENTENCES, _read_synth, read_sighan15
from finegrain.data.confusion_sets import confusion_sets
from finegrain.methods.estimators.char_ngram import CharNgram
from finegrain.tasks.spelling.model import build_spelling_model
from finegrain.tasks.spelling.encoding import char_tokens
from finegrain.tasks.spelling.metrics import spelling_metrics
from finegrain.tasks.spelling.decoding import best_threshold
torch.set_num_threads(1)
from finegrain.pretraining.corpus import deduplicate, read_sources

CORPORA = ["chinese-reviews", "ctrip-reviews", "finance-intents", "bq-matching", "lcqmc-matching", "msra-ner"]
path = sys.argv[1]
synth = _read_synth(); val, train = synth.iloc[:VALIDATION_SENTENCES], synth.iloc[VALIDATION_SENTENCES:]
lm = CharNgram().fit(train.target.tolist() + deduplicate(read_sources(CORPORA, "text")))
tok = AutoTokenizer.from_pretrained(path)
model = build_spelling_model(path, LabelMap.from_values(["correct", "wrong"])); model.train(True)
for m in model.modules():
    if isinstance(m, torch.nn.Dropout): m.p = 0
sets = confusion_sets()
vocab = tok.get_vocab()

def rows_of(frame):
    out = []  # per sentence: list of (pos, written, [(cand, dlp, gain)] , det)
    for s in frame.source:
        ids, chars = char_tokens(tok, [s])[0]
        x = torch.tensor([[tok.cls_token_id, *ids, tok.sep_token_id]])
        with torch.no_grad():
            lo = model(input_ids=x).logits[0, 1:-1].float()
        det = lo[:, 0].tolist(); lp = lo[:, 1:].log_softmax(-1)
        padded = ["\x02", "\x02", *s, "\x02", "\x02"]
        sent = []
        for k, (tid, ch) in enumerate(zip(ids, chars)):
            if ch is None or tid == tok.unk_token_id: continue
            w = s[ch]; at = ch + 2
            base = lm._local(padded, at)
            cands = []
            for c in sets.candidates(w):
                cid = vocab.get(c)
                if cid is None: continue
                padded[at] = c; gain = lm._local(padded, at) - base; padded[at] = w
                cands.append((c, float(lp[k, cid] - lp[k, tid]), gain))
            if cands: sent.append((ch, w, cands, det[k]))
        out.append(sent)
    return out

t = time.time()
sig = read_sighan15()
R = {"val": rows_of(val), "sig": rows_of(sig)}
print("scored in", round(time.time() - t), "s", flush=True)

def decide(rows, a, b):
    props = []  # per sentence list of (score, pos, cand)
    for sent in rows:
        ps = []
        for ch, w, cands, det in sent:
            c, sc = max(((c, a * d + b * g) for c, d, g in cands), key=lambda z: z[1])
            ps.append((sc, ch, c))
        props.append(ps)
    return props

def texts(frame, props, tau):
    out = []
    for s, ps in zip(frame.source, props):
        chars = list(s)
        for sc, ch, c in ps:
            if sc > tau: chars[ch] = c
        out.append("".join(chars))
    return out

def tune(frame, props, beta):
    scored, gold = [], 0
    for s, t, ps in zip(frame.source, frame.target, props):
        if len(s) != len(t): continue
        gold += sum(x != y for x, y in zip(s, t))
        scored += [(sc, t[ch] == c) for sc, ch, c in ps]
    return best_threshold(scored, gold, beta)

for a, b in [(1, 0), (0, 1), (1, 0.25), (1, 0.5), (1, 1), (0.5, 1), (0.25, 1)]:
    pv, ps = decide(R["val"], a, b), decide(R["sig"], a, b)
    for beta in (0.5, 1.0):
        tau = tune(val, pv, beta)
        mv = spelling_metrics(val.source.tolist(), val.target.tolist(), texts(val, pv, tau))
        ms = spelling_metrics(sig.source.tolist(), sig.target.tolist(), texts(sig, ps, tau))
        print(f"a={a} b={b} beta={beta} tau={tau:.2f} val C-F1 {mv['correction_f1']:.3f}"
              f" | sighan C-F1 {ms['correction_f1']:.3f}"
              f" lenient {ms['lenient']['f1']:.3f} FPR {ms['false_positive_rate']:.3f}", flush=True)
