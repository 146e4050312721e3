"""Speed probe: what makes a hand-written accelerate loop faster than ``transformers.Trainer`` here.

Each variant runs in its own fresh process (so thread / env / backend settings do not leak):

    python benchmarks/speed_probe.py --list
    python benchmarks/speed_probe.py --variant hand_base --n 1600
    python benchmarks/speed_probe.py --all --n 1600 --out runs/speed_probe.jsonl   # sequential
    python benchmarks/speed_probe.py --variant hand_base --profile                  # phase timing

Common setup (all variants): MiniLM-L6-H384 + fresh 3-way head, ``n`` tweets (default 1600 ->
100 steps of 16), 1 epoch, lr 5e-5, AdamW (wd 0.01 except bias/LayerNorm, like Trainer), linear
schedule with 10% warmup, grad-norm clipping at 1.0 (Trainer default), max_length 128, seed 0.
Timing: wall time per optimiser step; the first ``--skip`` (default 10) steps are warm-up and
excluded from ``steady_sps``; ``total_sps`` covers the whole epoch (what Trainer's own timing
would see). Loss is logged as the mean over every 10 steps so trajectories can be compared.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# variant name -> options; "hand" options are overrides of HAND_BASE
HAND_BASE = dict(
    kind="hand",
    sampler="megabatch50",  # megabatch50 (Trainer's LengthGroupedSampler) | bucket | random
    collate="tokpad",  # tokpad (DataCollatorWithPadding / tokenizer.pad) | tensor (pre-tokenised)
    pad_multiple=None,
    fused=False,  # torch.optim.AdamW(fused=True) vs default foreach
    set_to_none=True,
    clip=1.0,
    attn="sdpa",
    accel=True,  # accelerate.Accelerator(mixed_precision="bf16") vs plain torch.autocast
    compact_vocab=False,  # train only embedding rows of tokens present in the train set (exact)
    compile=False,
    threads=None,
    mkldnn=True,
    bf16=True,
    env={},
)

VARIANTS: dict[str, dict] = {
    "trainer_default": dict(kind="trainer", best=False),
    "trainer_best": dict(kind="trainer", best=True),
    "hand_base": {},
    "hand_fp32": dict(bf16=False),
    "hand_random_sampler": dict(sampler="random"),
    "hand_fused": dict(fused=True),
    "hand_no_set_to_none": dict(set_to_none=False),
    "hand_pad8": dict(pad_multiple=8),
    "hand_bucket": dict(sampler="bucket"),
    "hand_tensor_collate": dict(collate="tensor"),
    "hand_eager_attn": dict(attn="eager"),
    "hand_plain_autocast": dict(accel=False),
    "hand_threads1": dict(threads=1),
    "hand_no_mkldnn": dict(mkldnn=False),
    "hand_omp_env": dict(env={"OMP_NUM_THREADS": "2", "KMP_AFFINITY": "granularity=fine,compact,1,0"}),
    "hand_compact_vocab": dict(compact_vocab=True),
    "hand_fused_bucket_tensor": dict(fused=True, sampler="bucket", collate="tensor"),
    "hand_best": dict(fused=True, sampler="bucket", collate="tensor", compact_vocab=True),
    "hand_best_megabatch": dict(fused=True, collate="tensor", compact_vocab=True),
    "hand_compile": dict(fused=True, sampler="bucket", collate="tensor", compile=True),
}


# ----------------------------------------------------------------------------------------- helpers
def _decay_groups(model, wd: float):
    """Same split as Trainer.get_decay_parameter_names: no decay for bias / LayerNorm."""
    import torch.nn as nn

    no_decay = set()
    for mname, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if isinstance(mod, nn.LayerNorm) or "bias" in pname or "layernorm" in full.lower():
                no_decay.add(full)
    dec, nodec = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (nodec if n in no_decay else dec).append(p)
    return [{"params": dec, "weight_decay": wd}, {"params": nodec, "weight_decay": 0.0}]


def _batches(lengths, bs, sampler, g):
    """Lists of indices per batch."""
    import torch

    n = len(lengths)
    if sampler == "random":
        perm = torch.randperm(n, generator=g).tolist()
        return [perm[i : i + bs] for i in range(0, n, bs)]
    if sampler == "megabatch50":  # == transformers LengthGroupedSampler
        from transformers.trainer_pt_utils import get_length_grouped_indices

        idx = get_length_grouped_indices(lengths, bs, generator=g)
        return [idx[i : i + bs] for i in range(0, n, bs)]
    if sampler == "bucket":  # sort whole epoch by (length, random tie-break), shuffle batch order
        tie = torch.rand(n, generator=g).tolist()
        order = sorted(range(n), key=lambda i: (lengths[i], tie[i]))
        batches = [order[i : i + bs] for i in range(0, n, bs)]
        perm = torch.randperm(len(batches), generator=g).tolist()
        return [batches[j] for j in perm]
    raise ValueError(sampler)


def _load(n: int, seed: int):
    from hf_baselines import DEFAULT_MODEL, load_tweets

    trx, try_, tex, tey, names = load_tweets(n, seed, n_test=500)
    return DEFAULT_MODEL, trx, try_, tex, tey, names


# ------------------------------------------------------------------------------------ Trainer run
def run_trainer(opt, a):
    import torch
    from transformers import TrainerCallback

    import hf_baselines as hb

    step_t: list[float] = []
    losses: list[float] = []

    class CB(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            step_t.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    # reuse hf_baselines but with a callback + logging every 10 steps: monkeypatch Trainer init
    import transformers

    orig_init = transformers.Trainer.__init__

    def init(self, *args, **kw):
        kw.setdefault("callbacks", []).append(CB())
        kw["args"].logging_strategy = "steps"
        kw["args"].logging_steps = 10
        orig_init(self, *args, **kw)
        self._probe_profile = a.profile

    transformers.Trainer.__init__ = init
    model_path, trx, try_, tex, tey, names = _load(a.n, a.seed)
    prof_ctx = contextlib.nullcontext()
    if a.profile:
        from torch.profiler import ProfilerActivity, profile

        prof_ctx = profile(activities=[ProfilerActivity.CPU])
    t0 = time.perf_counter()
    import tempfile

    with tempfile.TemporaryDirectory() as d, prof_ctx as prof:
        res = hb.train_hf_trainer(
            model_path, trx, try_, tex, tey, num_labels=3, epochs=1, batch_size=16, lr=5e-5,
            max_length=128, seed=a.seed, best=opt["best"], output_dir=d,
        )
    if a.profile:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    return dict(
        step_times=step_t, losses=losses, train_seconds=res["train_seconds"],
        accuracy=res["accuracy"], macro_f1=res["macro_f1"], n=len(trx),
    )


# ----------------------------------------------------------------------------------- hand loop run
def run_hand(opt, a):
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from transformers import get_linear_schedule_with_warmup

    if opt["threads"]:
        torch.set_num_threads(opt["threads"])
    torch.backends.mkldnn.enabled = opt["mkldnn"]
    model_path, trx, try_, tex, tey, names = _load(a.n, a.seed)
    set_seed(a.seed)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=3, attn_implementation=opt["attn"]
    )
    enc = tok(trx, truncation=True, max_length=128)
    ids_list = enc["input_ids"]
    lengths = [len(x) for x in ids_list]
    labels = torch.tensor(try_)

    # ---- exact "compact vocabulary": only rows of tokens in the train set ever get a gradient; the
    # others have m = v = 0 forever so AdamW only applies decoupled weight decay to them
    # (p *= 1 - lr_t * wd each step). Train a compact embedding and scatter back at the end.
    full_emb = model.get_input_embeddings()
    remap = None
    if opt["compact_vocab"]:
        used = sorted(set(t for s in ids_list for t in s) | {tok.pad_token_id})
        used_t = torch.tensor(used)
        remap = torch.full((full_emb.num_embeddings,), -1, dtype=torch.long)
        remap[used_t] = torch.arange(len(used))
        pad_id = int(remap[tok.pad_token_id])
        small = torch.nn.Embedding(len(used), full_emb.embedding_dim, padding_idx=pad_id)
        small.weight.data.copy_(full_emb.weight.data[used_t])
        model.set_input_embeddings(small)
        ids_list = [remap[torch.tensor(s)].tolist() for s in ids_list]
    else:
        pad_id = tok.pad_token_id

    g = torch.Generator().manual_seed(a.seed)
    batches = _batches(lengths, 16, opt["sampler"], g)
    pm = opt["pad_multiple"]

    if opt["collate"] == "tokpad":
        from transformers import DataCollatorWithPadding

        coll = DataCollatorWithPadding(tok, pad_to_multiple_of=pm)
        feats = [
            {"input_ids": ids_list[i], "attention_mask": enc["attention_mask"][i],
             "token_type_ids": enc["token_type_ids"][i], "labels": int(try_[i])}
            for i in range(len(trx))
        ]

        def make(b):
            return coll([feats[i] for i in b])
    else:
        ids_np = [np.asarray(s, dtype=np.int64) for s in ids_list]

        def make(b):
            L = max(lengths[i] for i in b)
            if pm:
                L = int(math.ceil(L / pm) * pm)
            x = np.full((len(b), L), pad_id, dtype=np.int64)
            m = np.zeros((len(b), L), dtype=np.int64)
            for r, i in enumerate(b):
                x[r, : lengths[i]] = ids_np[i]
                m[r, : lengths[i]] = 1
            return {"input_ids": torch.from_numpy(x), "attention_mask": torch.from_numpy(m),
                    "labels": labels[b]}

    groups = _decay_groups(model, 0.01)
    if opt["fused"]:
        optim = torch.optim.AdamW(groups, lr=5e-5, fused=True)
    else:
        optim = torch.optim.AdamW(groups, lr=5e-5)
    steps = len(batches)
    sched = get_linear_schedule_with_warmup(optim, math.ceil(0.1 * steps), steps)

    if opt["accel"]:
        from accelerate import Accelerator

        acc = Accelerator(mixed_precision="bf16" if opt["bf16"] else "no", cpu=True)
        model, optim = acc.prepare(model, optim)
        amp = acc.autocast
        backward = acc.backward
        clip = lambda: acc.clip_grad_norm_(model.parameters(), opt["clip"])  # noqa: E731
    else:
        amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if opt["bf16"] else contextlib.nullcontext
        backward = lambda l: l.backward()  # noqa: E731
        clip = lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), opt["clip"])  # noqa: E731

    fwd = model
    compile_s = 0.0
    if opt["compile"]:
        fwd = torch.compile(model, dynamic=True)

    model.train()
    step_t, losses, win, lrs = [], [], [], []
    phase = {"data": 0.0, "fwd": 0.0, "bwd": 0.0, "clip": 0.0, "opt": 0.0, "zero": 0.0}
    t_start = time.perf_counter()
    prof_ctx = contextlib.nullcontext()
    if a.profile == 2:
        from torch.profiler import ProfilerActivity, profile

        prof_ctx = profile(activities=[ProfilerActivity.CPU])
    with prof_ctx as prof:
        for s, b in enumerate(batches):
            t0 = time.perf_counter()
            batch = make(b)
            t1 = time.perf_counter()
            with amp():
                out = fwd(**batch)
            loss = out.loss
            t2 = time.perf_counter()
            backward(loss)
            t3 = time.perf_counter()
            if opt["clip"]:
                clip()
            t4 = time.perf_counter()
            lrs.append(optim.param_groups[0]["lr"])
            optim.step()
            sched.step()
            t5 = time.perf_counter()
            optim.zero_grad(set_to_none=opt["set_to_none"])
            t6 = time.perf_counter()
            win.append(loss.item())
            if len(win) == 10:
                losses.append(sum(win) / 10)
                win = []
            step_t.append(time.perf_counter())
            if opt["compile"] and s == 0:
                compile_s = t2 - t1 + t3 - t2
            if s >= a.skip:
                for k, v in zip(phase, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
                    phase[k] += v
    train_seconds = time.perf_counter() - t_start
    if a.profile == 2:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))

    # ---- restore full embedding (exact) for evaluation
    model = model.module if hasattr(model, "module") else model
    if opt["compact_vocab"]:
        decay = 1.0
        # replay the lr schedule: unused rows got p *= (1 - lr_t * wd) at every step
        for lr_t in lrs:
            decay *= 1 - lr_t * 0.01
        w = full_emb.weight.data.mul_(decay)
        w[used_t] = model.get_input_embeddings().weight.data
        model.set_input_embeddings(full_emb)
    from hf_baselines import _metrics, predict_in_order

    preds = predict_in_order(model, tok, tex, max_length=128, bf16=opt["bf16"])
    m = _metrics(tey, preds)
    nsteps = max(1, steps - a.skip)
    phase_ms = {k: 1000 * v / nsteps for k, v in phase.items()}
    ntok = sum(lengths)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return dict(step_times=step_t, losses=losses, train_seconds=train_seconds, n=len(trx),
                phase_ms=phase_ms, compile_s=compile_s, pad_efficiency=ntok / padded, **m)


# --------------------------------------------------------------------------------------- driver
def run_one(name, a):
    spec = VARIANTS[name]
    if spec.get("kind") == "trainer":
        opt = dict(spec)
        r = run_trainer(opt, a)
    else:
        opt = dict(HAND_BASE)
        opt.update(spec)
        r = run_hand(opt, a)
    st = r.pop("step_times")
    k = a.skip
    steady = (len(st) - 1 - k) * 16 / (st[-1] - st[k]) if len(st) > k + 2 else float("nan")
    r.update(variant=name, steady_sps=steady, total_sps=r["n"] / r["train_seconds"], steps=len(st))
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--only", default="", help="comma list for --all")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--n", type=int, default=1600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", type=int, default=10)
    ap.add_argument("--profile", type=int, default=0, help="1: Trainer torch.profiler; 2: hand profiler")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    if a.list:
        print("\n".join(VARIANTS))
        return
    if a.all:
        names = a.only.split(",") if a.only else list(VARIANTS)
        for nm in names:  # sequential, one process each
            env = dict(os.environ)
            spec = VARIANTS[nm]
            env.update(spec.get("env", {}))
            cmd = [sys.executable, __file__, "--variant", nm, "--n", str(a.n), "--seed", str(a.seed),
                   "--skip", str(a.skip)]
            if a.out:
                cmd += ["--out", a.out]
            subprocess.run(cmd, env=env, check=False)
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    r = run_one(a.variant, a)
    line = json.dumps(r)
    print("RESULT", line, flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "a") as f:
            f.write(line + "\n")




# ------------------------------------------------------------------ interleaved micro-benchmark
def micro(rounds: int = 7):
    """A/B timings interleaved round by round in ONE process (robust to the host's speed drifting,
    which on this shared 2-core VM swings by 3-5x from minute to minute). Prints median ms."""
    import statistics

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hf_baselines import DEFAULT_MODEL, load_tweets

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(DEFAULT_MODEL)
    trx = load_tweets(8000, 0, n_test=10)[0]
    used = sorted(set(t for s in tok(trx, truncation=True, max_length=128)["input_ids"] for t in s))
    model = AutoModelForSequenceClassification.from_pretrained(DEFAULT_MODEL, num_labels=3)
    model.train()
    V = model.get_input_embeddings().num_embeddings
    print(f"distinct train tokens in 8k tweets: {len(used)} of {V} rows")
    y = torch.randint(0, 3, (16,))
    x32 = torch.randint(1000, 20000, (16, 32))
    mask_pad = torch.ones(16, 32, dtype=torch.long)
    mask_pad[::2, 28:] = 0  # some padding -> explicit mask path
    x40 = torch.randint(1000, 20000, (16, 40))
    m40 = torch.ones(16, 40, dtype=torch.long)
    m40[:, 33:] = 0
    groups = _decay_groups(model, 0.01)
    opt_foreach = torch.optim.AdamW(groups, lr=5e-5)
    opt_fused = torch.optim.AdamW(_decay_groups(model, 0.01), lr=5e-5, fused=True)

    def fb(x, m, bf16=True):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with ctx:
            out = model(input_ids=x, attention_mask=m, labels=y)
        out.loss.backward()

    cases = {
        "fwd+bwd bf16 L=32 no padding (mask all ones)": lambda: fb(x32, torch.ones_like(x32)),
        "fwd+bwd bf16 L=32 with padding in mask": lambda: fb(x32, mask_pad),
        "fwd+bwd bf16 L=40 (33 real, pad to x8)": lambda: fb(x40, m40),
        "fwd+bwd fp32 L=32 no padding": lambda: fb(x32, torch.ones_like(x32), bf16=False),
        "clip_grad_norm_": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0),
        "AdamW foreach step (full vocab)": lambda: opt_foreach.step(),
        "AdamW fused step (full vocab)": lambda: opt_fused.step(),
        "zero_grad(set_to_none=True)": lambda: None,
    }
    emb = model.get_input_embeddings().weight
    small = torch.nn.Parameter(emb.data[: len(used)].clone())
    small.grad = torch.zeros_like(small)
    other = [p for n, p in model.named_parameters() if "word_embeddings" not in n]
    opt_small = torch.optim.AdamW([{"params": [small] + other, "weight_decay": 0.01}], lr=5e-5, fused=True)
    cases["AdamW fused step (compact vocab)"] = lambda: opt_small.step()
    times = {k: [] for k in cases}
    fb(x32, torch.ones_like(x32))
    for r in range(rounds):
        for k, f in cases.items():
            if k.startswith("AdamW") or k.startswith("clip"):
                if emb.grad is None:
                    fb(x32, torch.ones_like(x32))
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
            if k.startswith("fwd"):
                model.zero_grad(set_to_none=True)
    for k, v in times.items():
        print(f"{k:48s} median {1000 * statistics.median(v[1:]):8.1f} ms  (min {1000 * min(v[1:]):.1f})")


if __name__ == "__main__":
    if "--micro" in sys.argv:
        micro()
    else:
        main()
