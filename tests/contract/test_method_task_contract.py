"""The method x task contract, over every registered method and task, through ``finegrain.train``.

For each pair, a few steps on the tiny BERT must: (a) lower the training loss; (b) give back
exactly the saved validation metrics when the run is loaded again (twice, identically); (c)
leave every parameter that ``method.apply`` froze bit-identical to the base model, while the
trained ones moved; (d) record honest costs (parameters, lr, size on disk, time, memory). Full
fine-tuning and LoRA are also trained with ``train.cpu_speedups: off``: PyTorch's and transformers'
own modules, the path a GPU run takes.

Fitted methods (:class:`~finegrain.methods.base.FittedMethod`: tfidf, embeddings-lr, setfit) have no
``apply``: they are held to (b) and (d), to (a) when they train through the loop (those with a
``default_lr``). A task a method does not declare in ``tasks`` must fail before anything is written,
with a ConfigError naming the methods that support it; so must a declared task whose default parameters the
method refuses (``check_task``: the English dictionary baselines need ``task.level: word``).

The model a run trained is rebuilt through the runner's own seams (``prepare``, which calls
``check_against``/``check_task``, and ``adapted_model``, which calls ``set_total_steps`` then ``apply``),
so the hooks run here as they run in training.

New methods and tasks are covered by registering them: each task brings its own tiny dataset
(``tiny_dataset``), and a registered task without one fails here rather than being skipped; a method
whose defaults do not fit the tiny model declares its ``tiny_params``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from accelerate.utils import set_seed

import finegrain
from finegrain.config import load_config
from finegrain.errors import ConfigError
from finegrain.data.labels import LabelMap
from finegrain.methods.base import FittedMethod, count_parameters
from finegrain.models.base_reference import locate_base
from finegrain.registry import METHODS, TASKS
from finegrain.training.predictor import run_splits
from finegrain.training.runner import adapted_model
from finegrain.training.setup import build_method, prepare

STEPS = 60
BATCH = 16
LR = {"full": 5e-3, "freeze": 5e-3, "prefix": 3e-2, "prompt": 3e-2}  # whole layers: smaller steps; soft tokens: larger
DEFAULT_LR = 1e-2  # far too high for real models; right for a 32-wide tiny BERT in a few dozen steps


def _estimator(method: str) -> bool:
    return METHODS.protocol(method) is FittedMethod


def _supports(method: str, task: str) -> bool:
    tasks = METHODS.get(method).tasks
    return tasks is None or task in tasks


def _trains_in_loop(method: str) -> bool:
    return METHODS.get(method).default_lr is not None


def _accepts_task_defaults(method: str, task: str) -> bool:
    """False for a method that supports a task only with other task parameters than the defaults the tiny data
    has (symspell and pyspellchecker need the spelling task's word level; its tiny data is character-level)."""
    try:
        METHODS.get(method)().check_task(TASKS.get(task)())
    except ConfigError:
        return False
    return True


ALL_PAIRS = [(method, task) for method in METHODS.names() for task in TASKS.names()]
SUPPORTED = [(m, t) for m, t in ALL_PAIRS if _supports(m, t)]
PAIRS = [(m, t) for m, t in SUPPORTED if _accepts_task_defaults(m, t)]
REFUSING_DEFAULTS = [(m, t) for m, t in SUPPORTED if (m, t) not in PAIRS]
NEURAL_PAIRS = [(m, t) for m, t in PAIRS if not _estimator(m)]
LOOP_PAIRS = [(m, t) for m, t in PAIRS if _trains_in_loop(m)]
UNSUPPORTED = [(m, t) for m, t in ALL_PAIRS if not _supports(m, t)]
STOCK_METHODS = ("full", "lora")  # also trained with train.cpu_speedups: off, the path a GPU run takes


def with_speedups(pairs: list[tuple[str, str]]) -> list[Any]:
    """Each pair as the default (``auto``) trains it, and the full and LoRA ones also with the speed-ups off."""
    return [pytest.param(m, t, "auto", id=f"{m}-{t}") for m, t in pairs] + [
        pytest.param(m, t, "off", id=f"{m}-{t}-speedups_off") for m, t in pairs if m in STOCK_METHODS]


def run_config(method: str, task: str, root: Path, tiny_model_dir: Path, speedups: str = "auto") -> dict[str, Any]:
    return {
        "task": task,
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "method": {"name": method, **METHODS.get(method).tiny_params},  # what fits the tiny model
        "data": TASKS.get(task).tiny_dataset(root),
        "train": {"max_steps": STEPS, "batch_size": BATCH, "lr": LR.get(method, DEFAULT_LR),
                  "precision": "fp32", "log_every": 1, "warmup": 0.0, "cpu_speedups": speedups},
        "output": str(root / "run"),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """Train each (method, task, speed-ups) once per module, on first use."""
    runs: dict[tuple[str, str, str], Path] = {}

    def get(method: str, task: str, speedups: str = "auto") -> Path:
        if (method, task, speedups) not in runs:
            root = tmp_path_factory.mktemp(f"{method}-{task}-{speedups}")
            config = run_config(method, task, root, tiny_model_dir, speedups)
            runs[method, task, speedups] = finegrain.train(config).run_dir
        return runs[method, task, speedups]

    return get


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("task", TASKS.names())
def test_every_task_builds_its_tiny_dataset(task, tmp_path):
    """Every registered task must bring train, validation and test files the contract runs can train on."""
    data = TASKS.get(task).tiny_dataset(tmp_path)
    assert {"train", "validation", "test"} <= set(data), f"{task}: tiny_dataset gave {sorted(data)}"
    for name in ("train", "validation", "test"):
        assert Path(data[name]).is_file() and Path(data[name]).stat().st_size > 0, f"{task}: no {name} file"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _fresh_and_loaded(run: Path) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The base model as the runner hands it to the loop (before training), and the trained model loaded
    from the run."""
    config = load_config(run / "config.yaml")
    prepared = prepare(config)  # the run's own preparation: the method's checks included
    labels = LabelMap.load(run / "labels.json")
    assert labels == prepared.labels and config.train.seed == 0

    def build(path: str) -> torch.nn.Module:
        set_seed(0)  # the same random head init (and PEFT's frozen head copy) as the run's
        return prepared.task.build_model(locate_base(path, run), labels)  # adapters: base relative to the run

    fresh = adapted_model(prepared, prepared.method, config.train)  # set_total_steps then apply, seeded as training
    assert _read_json(run / "run.json")["total_steps"] == STEPS
    loaded = build_method(config).load(run / "model", build)
    return fresh, loaded


@pytest.mark.parametrize(("method", "task", "speedups"), with_speedups(LOOP_PAIRS))
def test_loss_falls(method, task, speedups, trained):
    losses = [r["loss"] for r in map(json.loads, (trained(method, task, speedups) / "log.jsonl").read_text().splitlines())
              if "loss" in r]
    assert len(losses) == STEPS
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < first, f"{method}/{task}: loss went {first:.4f} -> {last:.4f}"


@pytest.mark.parametrize(("method", "task", "speedups"), with_speedups(PAIRS))
def test_reloaded_run_reproduces_its_metrics(method, task, speedups, trained):
    run = trained(method, task, speedups)
    saved = _read_json(run / "metrics.json")
    again = json.loads(json.dumps(finegrain.evaluate(run)))  # the JSON round trip metrics.json went through
    assert again["validation"] == saved["validation"]
    assert again["test"] == saved["test"]
    first, second = finegrain.load(run), finegrain.load(run)
    split = first.task.check(run_splits(first)["validation"])  # as Predictor.evaluate reads it
    for a, b in zip(first.logits(split)[1], second.logits(split)[1], strict=True):
        assert (a == b).all()


@pytest.mark.parametrize(("method", "task", "speedups"), with_speedups(NEURAL_PAIRS))
def test_only_intended_parameters_change(method, task, speedups, trained):
    fresh, loaded = _fresh_and_loaded(trained(method, task, speedups))
    after = dict(loaded.named_parameters())
    frozen = {name: p for name, p in fresh.named_parameters() if not p.requires_grad}
    changed = [name for name, p in frozen.items() if not torch.equal(p, after[name])]
    assert not changed, f"{method}/{task}: frozen parameters changed: {changed[:5]}"
    trainable = [(name, p) for name, p in fresh.named_parameters() if p.requires_grad]
    moved = [name for name, p in trainable if p.shape == after[name].shape and not torch.equal(p, after[name])]
    assert any("classifier" in name for name in moved), f"{method}/{task}: the head did not train"
    assert len(moved) > 2 or method == "linear-probe", f"{method}/{task}: only {moved} moved"


@pytest.mark.parametrize(("method", "task", "speedups"), with_speedups(NEURAL_PAIRS))
def test_run_records_its_costs(method, task, speedups, trained):
    run = trained(method, task, speedups)
    info = _read_json(run / "run.json")
    fresh, _ = _fresh_and_loaded(run)
    trainable, total = count_parameters(fresh)
    assert info["parameters"]["trainable"] == trainable and info["parameters"]["total"] == total
    assert (trainable == total) == (method == "full")
    assert info["lr"] == LR.get(method, DEFAULT_LR)
    timing = info["timing"]
    assert timing["train_seconds"] > 0 and info["peak_memory_mb"] > 0
    assert info["peak_rss_mb"] > 0  # CPU: the resident high-water mark beside the heap in use
    samples = timing["samples_per_second"] * timing["train_seconds"]
    rounding = 1 + 0.01 + 0.005 / max(timing["train_seconds"] - 0.005, 0.005)  # both are recorded rounded
    assert 0.85 * STEPS * BATCH <= samples <= STEPS * BATCH * rounding  # an epoch's last batch is short
    on_disk = sum(f.stat().st_size for f in (run / "model").rglob("*") if f.is_file()) / 2**20
    assert info["model_size_mb"] == pytest.approx(on_disk, abs=0.01)
    weights = sum(f.stat().st_size for f in (run / "model").glob("*.safetensors"))
    if (run / "model" / "config.json").is_file():  # a plain model: every fp32 parameter is saved
        assert weights >= 4 * total
    else:  # an adapter: only what trained (and the head) is saved
        assert weights < 4 * total / 2


@pytest.mark.parametrize(("method", "task"), [(m, t) for m, t in PAIRS if _estimator(m)])
def test_estimator_run_records_its_costs(method, task, trained):
    run = trained(method, task)
    info = _read_json(run / "run.json")
    parameters, timing = info["parameters"], info["timing"]
    assert 0 <= parameters["trainable"] <= parameters["total"]
    assert (parameters["trainable"] == 0) == (method == "identity")  # only the no-change baseline fits nothing
    total = parameters["total"] or 1
    assert parameters["trainable_percent"] == round(100 * parameters["trainable"] / total, 4)
    assert info["lr"] == (LR.get(method, DEFAULT_LR) if _trains_in_loop(method) else None)
    assert timing["train_seconds"] > 0 and info["peak_memory_mb"] > 0
    examples = info["data"]["train"]["examples"]  # estimators: training examples per second of the fit
    # both are recorded rounded (seconds to 0.01, so the true time may be 0.005 s less); a fit can take 0.03 s
    rounding = 0.01 + 0.005 / max(timing["train_seconds"] - 0.005, 0.005)
    assert timing["samples_per_second"] * timing["train_seconds"] == pytest.approx(examples, rel=rounding)
    on_disk = sum(f.stat().st_size for f in (run / "model").rglob("*") if f.is_file()) / 2**20
    assert info["model_size_mb"] == pytest.approx(on_disk, abs=0.01)
    assert not list((run / "model").rglob("*.pkl")) and not list((run / "model").rglob("*.joblib"))


@pytest.mark.parametrize(("method", "task"), UNSUPPORTED)
def test_unsupported_task_fails_before_writing(method, task, tmp_path, tiny_model_dir):
    config = run_config(method, task, tmp_path, tiny_model_dir)
    with pytest.raises(ConfigError) as error:
        finegrain.train(config)
    supporting = [m for m in METHODS.names() if _supports(m, task)]
    assert f"'{method}'" in str(error.value) and ", ".join(supporting) in str(error.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("method", "task"), REFUSING_DEFAULTS)
def test_task_parameters_a_method_refuses_fail_before_writing(method, task, tmp_path, tiny_model_dir):
    config = run_config(method, task, tmp_path, tiny_model_dir)
    with pytest.raises(ConfigError, match=f"'{method}'"):
        finegrain.train(config)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("method", "task"), PAIRS, ids=[f"{m}-{t}" for m, t in PAIRS])
def test_every_method_explains_its_predictions(method, task, trained):
    """Occlusion explains every method; the gradient explainers every method with a PyTorch model."""
    from finegrain.explain import usable_explainers

    predictor = finegrain.load(trained(method, task))
    inputs = predictor.task.predict_inputs(run_splits(predictor)["validation"])[:2]
    usable = usable_explainers(predictor)
    assert "occlusion" in usable and ("integrated-gradients" in usable) == (not _estimator(method))
    for explainer in [name for name in ("occlusion", "integrated-gradients") if name in usable]:
        for explained in predictor.explain(inputs, method=explainer, steps=4):
            for target in explained.targets:
                assert len(target.scores) == len(explained.words) and all(np.isfinite(target.scores))
