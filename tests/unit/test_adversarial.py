"""train.adversarial: each defence on a tiny config-built BERT (the loss is finite, the trained parameters move,
the perturbation reaches the embedding output), with frozen embeddings (LoRA, BitFit, adapter, prompt tuning),
with the CPU speed-ups (compact embeddings, CPU dropout masks), and through whole runs of every task."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import finegrain
from finegrain.adversarial_config import FgmConfig, FreeLbConfig, PgdConfig, RDropConfig
from finegrain.config import TrainConfig, load_config
from finegrain.errors import ConfigError
from finegrain.methods.base import name_base_model
from finegrain.registry import METHODS, TASKS
from finegrain.training.adversarial import batch_step
from finegrain.training.adversarial.passes import unit, within
from finegrain.training.adversarial.rdrop import symmetric_kl
from finegrain.training.memory import PeakMemory
from finegrain.training.runner import build_accelerator
from finegrain.training.speedups import apply_speedups
from finegrain.training.speedups.compact_embeddings import CompactEmbedding

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = 60
# name -> (config, forward passes, backward passes) of one batch
DEFENCES = {
    "fgm": (FgmConfig(), 2, 2),
    "pgd": (PgdConfig(steps=3), 4, 4),  # the clean pass, two delta-only passes, the last adversarial pass
    "freelb": (FreeLbConfig(steps=3), 3, 3),
    "rdrop": (RDropConfig(), 1, 1),  # one pass on the batch stacked on itself
}


def _model(dropout: float = 0.0) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config).train()


def _batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, VOCAB, (4, 9), generator=generator)
    ids[1, 6:] = 0
    return {"input_ids": ids, "attention_mask": (ids != 0).long(),
            "labels": torch.randint(0, 3, (4,), generator=generator)}


def _classification():
    task_class = TASKS.get("classification")
    return task_class(task_class.Params())


def _step(config, model: torch.nn.Module):
    """One batch's passes through the loop's seam; returns (loss, step, the embeddings module's outputs)."""
    accelerator = build_accelerator(TrainConfig(precision="fp32"))
    step = batch_step(config, accelerator, _classification(), PeakMemory(accelerator.device))
    outputs: list[torch.Tensor] = []
    handle = model.bert.embeddings.register_forward_hook(lambda _m, _i, out: outputs.append(out.detach().clone()))
    try:
        loss = step(model, _batch())
    finally:
        handle.remove()
    return loss, step, outputs


def _assert_perturbed(outputs: list[torch.Tensor]) -> None:
    """Dropout is off: the embedding module's outputs of one batch differ only by the delta added to them."""
    assert len(outputs) >= 2
    assert max((later - outputs[0]).abs().max().item() for later in outputs[1:]) > 1e-4


@pytest.mark.parametrize("name", list(DEFENCES))
def test_each_defence_trains_and_runs_its_passes(name):
    config, forwards, backwards = DEFENCES[name]
    model = _model(dropout=0.1 if name == "rdrop" else 0.0)
    before = {key: p.detach().clone() for key, p in model.named_parameters()}
    loss, step, outputs = _step(config, model)
    assert torch.isfinite(loss)
    assert (step.passes.forwards, step.passes.backwards) == (forwards, backwards)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    moved = [key for key, p in model.named_parameters() if not torch.equal(p, before[key])]
    assert "bert.embeddings.word_embeddings.weight" in moved and "classifier.weight" in moved
    if name != "rdrop":
        _assert_perturbed(outputs)
    cost = step.cost(train_seconds=1.0)
    assert cost["name"] == name and cost["forward_passes_per_batch"] == forwards
    assert ("slowdown" in cost) == (name != "rdrop")  # R-Drop has no plain pass of its own to time


def test_the_plain_step_adds_nothing_and_records_no_cost():
    loss, step, outputs = _step(None, _model())
    assert torch.isfinite(loss) and len(outputs) == 1 and step.cost(1.0) is None


@pytest.mark.parametrize("method", ["lora", "bitfit", "adapter", "prompt"])
def test_frozen_embeddings_are_perturbed_and_the_method_trains(method):
    """The embedding's weights are frozen: the delta is a leaf of its own, so its gradient still exists."""
    method_class = METHODS.get(method)
    base = _model()
    name_base_model(base, "tiny")  # what PEFT records as the base model
    model = method_class(method_class.Params(**method_class.tiny_params)).apply(base, ["classifier"])
    embedding = model.get_input_embeddings()
    assert not embedding.weight.requires_grad
    trained = {key: p.detach().clone() for key, p in model.named_parameters() if p.requires_grad}
    outputs: list[torch.Tensor] = []
    handle = embedding.register_forward_hook(lambda _m, _i, out: outputs.append(out))
    accelerator = build_accelerator(TrainConfig(precision="fp32"))
    step = batch_step(PgdConfig(steps=2), accelerator, _classification(), PeakMemory(accelerator.device))
    captured: list[torch.Tensor] = []
    hook = base.bert.encoder.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0].detach()))
    try:
        assert torch.isfinite(step(model, _batch()))
    finally:
        handle.remove()
        hook.remove()
    assert len(outputs) == 3 and len(captured) == 3  # the clean pass, one delta-only pass, the adversarial pass
    assert (captured[-1] - captured[0]).abs().max() > 1e-4  # what the encoder reads moved
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    assert any(not torch.equal(p, trained[key]) for key, p in model.named_parameters() if p.requires_grad)


def test_the_hook_finds_the_compact_embedding_of_the_cpu_speedups():
    model = _model()
    features = [{"input_ids": row.tolist()} for row in _batch()["input_ids"]]
    accelerator = build_accelerator(TrainConfig(precision="fp32"))
    with apply_speedups(model, "auto", accelerator=accelerator, features=[features, None]):
        compact = model.get_input_embeddings()
        assert isinstance(compact, CompactEmbedding)
        loss, step, outputs = _step(FgmConfig(), model)
        assert torch.isfinite(loss) and compact.weight.grad.abs().sum() > 0
        _assert_perturbed(outputs)
    assert type(model.get_input_embeddings()) is torch.nn.Embedding  # the speed-up gave the model its own back


def test_rdrop_copies_get_different_masks_with_the_cpu_dropout_speedup():
    model = _model(dropout=0.1)
    accelerator = build_accelerator(TrainConfig(precision="fp32"))
    batch = _batch()
    twice = {key: torch.cat([value, value]) for key, value in batch.items()}
    with apply_speedups(model, "auto", accelerator=accelerator, features=[[], None]) as speedups:
        assert "cpu_dropout" in speedups.names
        step = batch_step(RDropConfig(), accelerator, _classification(), PeakMemory(accelerator.device))
        first, second = step.passes.logits(model, twice).chunk(2)
        assert (first - second).abs().max() > 1e-4
        assert symmetric_kl(first.float(), second.float(), batch["labels"]) > 0
        model.eval()  # no dropout: the copies agree, so the difference above is the masks'
        first, second = step.passes.logits(model, twice).chunk(2)
        torch.testing.assert_close(first, second)


def test_symmetric_kl_per_task_shape():
    torch.manual_seed(0)
    p, q = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    tags = torch.tensor([[-100, 1, 2, -100, -100], [-100, 0, -100, -100, -100]])
    moved = q.clone()
    moved[tags == -100] += 3.0  # unlabelled positions (padding, later sub-tokens) do not count
    assert symmetric_kl(p, q, tags) == pytest.approx(symmetric_kl(p, moved, tags).item())
    flat = symmetric_kl(p[:, :2].reshape(-1, 4), q[:, :2].reshape(-1, 4), torch.zeros(4, dtype=torch.long))
    log_p, log_q = p.log_softmax(-1), q.log_softmax(-1)
    kl = lambda a, b: (a.exp() * (a - b)).sum(-1)  # noqa: E731
    manual = ((kl(log_p, log_q) + kl(log_q, log_p)) / 2)[:, :2].mean()
    assert flat.item() == pytest.approx(manual.item(), rel=1e-5)
    multi = torch.tensor([[1.0, 0.0, 1.0, 0.0]])  # multi-label targets: a sigmoid per label
    assert symmetric_kl(p[0, :1], q[0, :1], multi) > 0 and symmetric_kl(p[0, :1], p[0, :1], multi) == 0


def test_unit_and_within_work_per_example():
    gradient = torch.zeros(3, 2, 4)
    gradient[0] = 5.0
    gradient[2, 0, 0] = float("inf")  # fp16 overflow: the step is skipped, no perturbation
    normed = unit(gradient)
    assert normed[0].norm().item() == pytest.approx(1.0) and normed[1].abs().sum() == 0
    assert torch.isfinite(normed).all()
    delta = torch.stack([torch.full((2, 4), 1.0), torch.full((2, 4), 0.01)])
    projected = within(delta, 0.5)
    assert projected[0].norm().item() == pytest.approx(0.5) and torch.equal(projected[1], delta[1])


@pytest.mark.parametrize("task,defence", [("classification", "fgm"), ("ner", "freelb"),
                                          ("pair-classification", "rdrop")])
def test_runs_of_every_task_record_the_defence_cost(task, defence, tiny_model_dir, tmp_path):
    data = TASKS.get(task).tiny_dataset(tmp_path)
    config = {"task": task, "model": {"name": str(tiny_model_dir), "max_length": 32}, "data": data,
              "train": {"max_steps": 3, "batch_size": 16, "lr": 1e-2, "precision": "fp32",
                        "adversarial": {"name": defence}},
              "output": str(tmp_path / "run")}
    result = finegrain.train(config)
    info = json.loads((result.run_dir / "run.json").read_text())
    cost = info["adversarial"]
    assert cost["name"] == defence and cost["seconds_per_batch"] > 0
    assert cost["forward_passes_per_batch"] == DEFENCES[defence][1]
    if defence != "rdrop":
        assert 1.0 < cost["slowdown"] and cost["plain_seconds_per_batch"] < cost["seconds_per_batch"]
    assert load_config(result.run_dir / "config.yaml").train.adversarial.name == defence


def test_config_errors_name_the_field_and_the_valid_choices():
    base = {"data": {"train": "t.csv"}, "output": "runs/x"}
    with pytest.raises(ConfigError) as error:
        load_config(base, ["train.adversarial.name=freelbb", "train.lr=0"])
    assert "train.adversarial: unknown defence 'freelbb'. Did you mean 'freelb'?" in str(error.value)
    assert "Valid names: fgm, pgd, freelb, rdrop." in str(error.value) and "train.lr" in str(error.value)
    with pytest.raises(ConfigError) as error:
        load_config(base, ["train.adversarial.name=fgm", "train.adversarial.steps=3", "train.adversarial.epsilon=-1"])
    message = str(error.value)
    assert "train.adversarial.steps: unknown key. Valid keys: name, epsilon." in message
    assert "train.adversarial.epsilon: Input should be greater than 0" in message
    assert load_config(base, ["train.adversarial=pgd"]).train.adversarial == PgdConfig()
