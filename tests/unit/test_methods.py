"""Every registered method on the tiny BERT: what trains, that it learns, save -> load, merge, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from safetensors import safe_open
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, BertModel
from transformers.utils import logging as hf_logging

from finegrain.errors import ConfigError, ModelError
from finegrain.methods.base import TrainedMethod, count_parameters
from finegrain.registry import METHODS

hf_logging.set_verbosity_error()

STEPS = 8
BUILDERS = {"sequence": AutoModelForSequenceClassification, "token": AutoModelForTokenClassification}
TINY_PARAMS = {"freeze": {"layers": 1}}  # the tiny model has 2 layers; the default freezes 3
HEAD = "classifier"


def _peft(marker: str) -> Callable[[str], bool]:
    return lambda name: marker in name or "modules_to_save" in name


INTENDED: dict[str, Callable[[str], bool]] = {
    "full": lambda name: True,
    "freeze": lambda name: ".embeddings." not in name and ".layer.0." not in name,
    "linear-probe": lambda name: name.startswith(HEAD),
    "bitfit": lambda name: name.endswith("bias") or name.startswith(HEAD),
    "lora": _peft("lora_"),
    "adalora": _peft("lora_"),
    "ia3": _peft("ia3_l"),
    "prefix": _peft("prompt_encoder"),
    "prompt": _peft("prompt_encoder"),
    "adapter": lambda name: ".adapter." in name or name.startswith(HEAD),
}
"""Per method, which parameter names should train (names as the applied module reports them)."""


def make_method(name: str, **overrides):
    cls = METHODS.get(name)
    method = cls(cls.Params(**{**TINY_PARAMS.get(name, {}), **overrides}))
    method.check_against(32)  # in the order training calls them (training/setup.py, training/runner.py)
    method.set_total_steps(STEPS)
    return method


def batch(kind: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, 60, (6, 10), generator=generator)
    input_ids[:, 0] = 2  # [CLS]
    labels = torch.randint(0, 3, (6,) if kind == "sequence" else (6, 10), generator=generator)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}


def logits_of(model: torch.nn.Module, data: dict[str, torch.Tensor]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=data["input_ids"], attention_mask=data["attention_mask"]).logits


def loss_of(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def train(method, model: torch.nn.Module, data: dict[str, torch.Tensor]) -> None:
    """A plain loop, calling the hooks the real loop calls."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-2)
    model.train()
    for step in range(STEPS):
        logits = model(input_ids=data["input_ids"], attention_mask=data["attention_mask"]).logits
        loss_of(logits, data["labels"]).backward()
        optimizer.step()
        method.on_step(model, step)
        optimizer.zero_grad()


pytestmark = pytest.mark.usefixtures("one_thread")

NEURAL = [name for name in METHODS.names() if METHODS.protocol(name) is TrainedMethod]
"""Methods that adapt a transformers model (``apply``); fitted methods are tested in test_estimators.py."""


@pytest.fixture(scope="module")
def build(tiny_model_dir: Path) -> Callable[[str], Callable[[str], torch.nn.Module]]:
    def builder(kind: str) -> Callable[[str], torch.nn.Module]:
        def build_base(path: str) -> torch.nn.Module:
            torch.manual_seed(1)
            return BUILDERS[kind].from_pretrained(path, num_labels=3)

        return build_base

    return builder


@pytest.mark.parametrize("kind", list(BUILDERS))
@pytest.mark.parametrize("name", NEURAL)
def test_method_trains_saves_and_loads(name, kind, build, tiny_model_dir, tmp_path):
    method, build_base, data = make_method(name), build(kind), batch(kind)
    model = method.apply(build_base(str(tiny_model_dir)), [HEAD])

    names = {n: p.requires_grad for n, p in model.named_parameters()}
    intended = INTENDED.get(name, lambda n: HEAD in n)
    assert {n for n, grad in names.items() if grad} == {n for n in names if intended(n)}
    assert any(HEAD in n for n, grad in names.items() if grad), "the head must always train"
    trainable, total = count_parameters(model)
    assert 0 < trainable <= total and (trainable == total) == (name == "full")

    before = loss_of(logits_of(model, data), data["labels"]).item()
    train(method, model, data)
    expected = logits_of(model, data)
    assert loss_of(expected, data["labels"]).item() < before
    assert expected.shape[:-1] == data["labels"].shape

    method.save(model, tmp_path / "model")
    peft_weights = tmp_path / "model" / "adapter_model.safetensors"
    if peft_weights.exists():  # PEFT's pitfall: the head is only saved when in modules_to_save
        with safe_open(str(peft_weights), "pt") as handle:
            assert any(HEAD in key for key in handle.keys())
    loaded = METHODS.get(name)(method.params).load(tmp_path / "model", build_base)
    torch.testing.assert_close(logits_of(loaded, data), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in NEURAL if METHODS.get(n).mergeable])
def test_merge_matches_unmerged(name, build, tiny_model_dir):
    method, build_base, data = make_method(name), build("sequence"), batch("sequence")
    model = method.apply(build_base(str(tiny_model_dir)), [HEAD])
    train(method, model, data)
    unmerged = logits_of(model, data)
    merged = method.merge(model)
    assert type(merged).__name__ == "BertForSequenceClassification"
    torch.testing.assert_close(logits_of(merged, data), unmerged, rtol=0, atol=1e-4)


def test_not_mergeable_methods_refuse_to_merge(build, tiny_model_dir):
    refused = {n for n in NEURAL if not METHODS.get(n).mergeable}
    assert refused == {"prefix", "prompt", "adapter"}
    for name in refused:
        method = make_method(name, **({"num_virtual_tokens": 4} if name != "adapter" else {}))
        model = method.apply(build("sequence")(str(tiny_model_dir)), [HEAD])
        with pytest.raises(ModelError, match=f"Method '{name}' cannot be merged"):
            method.merge(model)


def test_lr_is_train_lr_else_the_methods_measured_lr_for_the_task():
    from finegrain.config import TrainConfig
    from finegrain.training.optim import resolve_lr

    adapter, lora = METHODS.get("adapter")(), METHODS.get("lora")()
    assert resolve_lr(TrainConfig(), adapter, "ner") == adapter.task_lr["ner"] != adapter.default_lr
    assert resolve_lr(TrainConfig(), adapter, "classification") == adapter.default_lr
    assert resolve_lr(TrainConfig(), lora, "ner") == lora.default_lr  # no task_lr: its default_lr everywhere
    assert resolve_lr(TrainConfig(lr=2e-5), adapter, "ner") == 2e-5  # the user's lr always wins


def test_a_methods_task_params_fill_what_the_config_leaves_unset():
    from finegrain.config import dump_config, load_config

    base = {"data": {"train": "tweet-ner"}, "output": "unused", "task": "ner"}
    ner = load_config({**base, "method": "lora"})
    assert ner.method.params == METHODS.get("lora").task_params["ner"]  # every layer, r=4, no dropout
    assert ner.component_params("method").target_modules == "all-linear"
    assert "target_modules: all-linear" in dump_config(ner)  # the saved config shows what trained
    mine = load_config({**base, "method": {"name": "lora", "r": 16}})
    assert mine.method.params["r"] == 16 and mine.method.params["alpha"] == 8  # the user's value wins
    classification = load_config({**base, "task": "classification", "method": "lora"})
    assert classification.method.params == {}  # the Params defaults: query/value, r=8
    assert load_config({**base, "method": "adapter"}).method.params == {}  # no task_params


def test_methods_list_shows_the_lr_each_method_trains_with():
    from finegrain.cli.models import lr_summary

    assert lr_summary(METHODS.get("adapter")) == "0.003 (ner 0.001)"
    assert lr_summary(METHODS.get("lora")) == "0.0015"
    assert lr_summary(METHODS.get("tfidf")) == "-"  # fitted, not trained with an lr


def test_methods_list_shows_each_tasks_own_params():
    from finegrain.cli.models import params_summary

    lora = METHODS.get("lora")
    assert params_summary(lora.Params, lora.task_params).endswith(
        "; ner: target_modules=all-linear, r=4, alpha=8, dropout=0.0")
    assert ";" not in params_summary(METHODS.get("bitfit").Params)


def test_adapter_starts_as_the_base_model(build, tiny_model_dir):
    data = batch("sequence")
    base = build("sequence")(str(tiny_model_dir))
    expected = logits_of(base, data)
    adapted = make_method("adapter").apply(base, [HEAD])
    torch.testing.assert_close(logits_of(adapted, data), expected)
    pfeiffer = make_method("adapter", variant="pfeiffer").apply(build("sequence")(str(tiny_model_dir)), [HEAD])
    count = lambda m: sum(".adapter." in n for n, _ in m.named_parameters())  # noqa: E731
    assert count(adapted) == 2 * count(pfeiffer) == 2 * 2 * 4  # 2 layers x (down, up) x (w, b)


@pytest.mark.parametrize(
    ("name", "params"),
    [("lora", {"r": 0}), ("lora", {"dropout": -0.1}), ("lora", {"rank": 8}), ("adalora", {"init_r": 4}),
     ("prefix", {"num_virtual_tokens": 0}), ("adapter", {"variant": "compacter"}), ("freeze", {"layers": -1})],
)
def test_invalid_params_are_rejected(name, params):
    with pytest.raises(ValidationError):
        METHODS.get(name).Params(**params)


def test_unknown_target_module_lists_valid_names(build, tiny_model_dir):
    with pytest.raises(ConfigError, match="Valid names for this model: .*query") as error:
        make_method("lora", target_modules=["qury"]).apply(build("sequence")(str(tiny_model_dir)), [HEAD])
    assert "'qury'" in str(error.value) and error.value.where == "method.target_modules"


def test_all_linear_targets_every_encoder_linear(build, tiny_model_dir):
    model = make_method("lora", target_modules="all-linear").apply(build("sequence")(str(tiny_model_dir)), [HEAD])
    assert sum(n.endswith("lora_A.default.weight") for n, _ in model.named_parameters()) == 2 * 6 + 1  # 6 per layer + the pooler (not a head here)


def test_ia3_feedforward_must_be_a_target(build, tiny_model_dir):
    method = make_method("ia3", target_modules=["key", "value"], feedforward_modules=["output.dense"])
    with pytest.raises(ConfigError, match="feedforward_modules"):
        method.apply(build("sequence")(str(tiny_model_dir)), [HEAD])


def test_freeze_more_layers_than_the_model_has(build, tiny_model_dir):
    with pytest.raises(ConfigError, match="has only 2 encoder layers"):
        METHODS.get("freeze")().apply(build("sequence")(str(tiny_model_dir)), [HEAD])


def test_virtual_tokens_must_fit(build, tiny_model_dir):
    with pytest.raises(ConfigError, match="not shorter than model.max_length 16"):
        METHODS.get("prompt")().check_against(16)
    method = METHODS.get("prefix")(METHODS.get("prefix").Params(num_virtual_tokens=40))
    method.check_against(48)
    with pytest.raises(ConfigError, match="64 position embeddings"):
        method.apply(build("sequence")(str(tiny_model_dir)), [HEAD])


def test_adalora_needs_total_steps(build, tiny_model_dir):
    with pytest.raises(ConfigError, match="total_step"):
        METHODS.get("adalora")().apply(build("sequence")(str(tiny_model_dir)), [HEAD])


def test_adalora_on_step_needs_gradients(build, tiny_model_dir):
    method = make_method("adalora")
    model = method.apply(build("sequence")(str(tiny_model_dir)), [HEAD])
    with pytest.raises(ModelError, match="before optimizer.zero_grad"):
        method.on_step(model, 1)


def test_wrong_head_name_and_wrong_model_class(build, tiny_model_dir):
    with pytest.raises(ConfigError, match="Its top-level modules: bert, dropout, classifier"):
        make_method("bitfit").apply(build("sequence")(str(tiny_model_dir)), ["clasifier"])
    with pytest.raises(ModelError, match="ForSequenceClassification"):
        make_method("lora").apply(BertModel.from_pretrained(tiny_model_dir), [])
