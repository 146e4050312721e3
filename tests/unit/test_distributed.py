"""Several processes, without starting them: how evaluation is dealt out and put back together, and
that the best model is saved from the gathered weights (what FSDP / ZeRO-3 need; accelerate runs
FSDP on GPUs only, so a fake accelerator stands in). The real 2-process runs are in
test_resume_and_distributed.py."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification
from transformers.utils import logging as hf_logging

from finegrain.errors import ModelError
from finegrain.methods.base import TrainedMethod
from finegrain.registry import METHODS
from finegrain.training.distributed import in_input_order, save_gathered, sharded_logits
from finegrain.training.inference import Shard, predict_logits, predict_shard

hf_logging.set_verbosity_error()
pytestmark = pytest.mark.usefixtures("one_thread")


class CountingModel(torch.nn.Module):
    """Logits from the ids alone (per sequence or per token), counting the rows of every forward pass."""

    def __init__(self, per_token: bool):
        super().__init__()
        self.per_token = per_token
        self.rows: list[int] = []
        self.inference_mode: list[bool] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        self.rows.append(len(input_ids))
        self.inference_mode.append(torch.is_inference_mode_enabled())
        values = (input_ids * attention_mask).float().unsqueeze(-1).expand(-1, -1, 3)
        return SimpleNamespace(logits=values if self.per_token else values.sum(1))


def _features(count: int) -> list[dict[str, list[int]]]:
    return [{"input_ids": list(range(1, 2 + (i * 7) % 5))} for i in range(count)]


def _collate(features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.tensor([f["input_ids"] + [0] * (width - len(f["input_ids"])) for f in features])
    return {"input_ids": ids, "attention_mask": (ids > 0).long()}


def _shard(model: CountingModel, features: list, shard: Shard) -> dict[int, np.ndarray]:
    return predict_shard(model, features, _collate, batch_size=2, device=torch.device("cpu"), dtype=None, shard=shard)


@pytest.mark.parametrize("per_token", [False, True])
def test_shards_cover_every_example_once_and_reassemble_in_order(per_token):
    features = _features(9)  # 5 batches of 2: process 0 runs 3, process 1 runs 2
    whole = predict_logits(CountingModel(per_token), features, _collate, batch_size=2, device=torch.device("cpu"),
                           dtype=None)
    models = [CountingModel(per_token) for _ in range(2)]
    shares = [_shard(model, features, Shard(rank, 2)) for rank, model in enumerate(models)]
    assert [sum(model.rows) for model in models] == [5, 4]
    assert not set(shares[0]) & set(shares[1])
    gathered = in_input_order([pair for share in shares for pair in share.items()], len(features))
    for ours, reference in zip(gathered, whole, strict=True):
        assert ours.shape == reference.shape and (ours == reference).all()


def test_lockstep_runs_as_many_forward_passes_on_every_process():
    features = _features(9)
    models = [CountingModel(False) for _ in range(2)]
    shares = [_shard(model, features, Shard(rank, 2, lockstep=True)) for rank, model in enumerate(models)]
    assert [len(model.rows) for model in models] == [3, 3]  # process 1 repeats a batch...
    assert sorted(i for share in shares for i in share) == list(range(9))  # ...and keeps nothing from it
    assert not any(flag for model in models for flag in model.inference_mode)  # no_grad: FSDP fails otherwise


def test_a_sharded_model_in_one_process_runs_without_inference_mode_and_the_same_numbers():
    features, model = _features(9), CountingModel(True)
    whole = predict_logits(CountingModel(True), features, _collate, batch_size=2, device=torch.device("cpu"),
                           dtype=None)
    ours = sharded_logits(model, features, _collate, batch_size=2, device=torch.device("cpu"), dtype=None,
                          shard=Shard(lockstep=True))
    assert all((a == b).all() for a, b in zip(ours, whole, strict=True))
    assert model.inference_mode == [False] * 5


def test_more_processes_than_batches_leaves_some_idle():
    features = _features(3)  # 2 batches, 4 processes
    models = [CountingModel(False) for _ in range(4)]
    shares = [_shard(model, features, Shard(rank, 4)) for rank, model in enumerate(models)]
    assert [len(model.rows) for model in models] == [1, 1, 0, 0]
    assert sorted(i for share in shares for i in share) == [0, 1, 2]


def test_gathering_with_an_example_missing_is_an_error():
    with pytest.raises(ModelError, match="Gathered 2 logits for 3 examples"):
        in_input_order([(0, np.zeros(3)), (2, np.zeros(3))], 3)


class FakeAccelerator:
    """One process of a sharded run: its own model holds a shard, ``get_state_dict`` the gathered weights."""

    def __init__(self, rank: int, gathered: dict[str, torch.Tensor], calls: list[tuple[str, int]]):
        self.rank, self.gathered, self.calls = rank, gathered, calls
        self.is_main_process = rank == 0

    def get_state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        self.calls.append(("get_state_dict", self.rank))
        return self.gathered if self.is_main_process else {}  # FSDP's full state dict goes to rank 0 only

    def unwrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def wait_for_everyone(self) -> None:
        self.calls.append(("wait", self.rank))


def _build(path: str) -> torch.nn.Module:
    torch.manual_seed(1)
    return AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)


def _method(name: str):
    cls = METHODS.get(name)
    method = cls(cls.Params(**({"layers": 1} if name == "freeze" else {})))
    method.set_total_steps(8)
    return method


def _gathered(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with every trainable weight moved: what the full, trained weights would be."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    generator = torch.Generator().manual_seed(0)
    return {name: value + 0.1 * torch.randn(value.shape, generator=generator) if name in trainable else value.clone()
            for name, value in model.state_dict().items()}


def _logits(model: torch.nn.Module) -> torch.Tensor:
    ids = torch.tensor([[2, 7, 9, 11, 3], [2, 20, 30, 3, 0]])
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=(ids > 0).long()).logits


def test_every_process_gathers_and_only_the_main_one_writes_the_gathered_weights(tiny_model_dir, tmp_path):
    method = _method("full")
    shard = method.apply(_build(str(tiny_model_dir)), ["classifier"])
    gathered = _gathered(shard)
    calls: list[tuple[str, int]] = []
    written: list[int] = []

    def write(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], folder: Path) -> None:
        written.append(id(state_dict))
        method.save(model, folder, state_dict=state_dict)

    for rank in (1, 0):  # the order does not matter to a fake; a real run calls both at once
        save_gathered(FakeAccelerator(rank, gathered, calls), shard, tmp_path / "model", write)
    assert sorted(rank for call, rank in calls if call == "get_state_dict") == [0, 1]
    assert written == [id(gathered)]
    holder = copy.deepcopy(shard)
    holder.load_state_dict(gathered)
    saved = method.load(tmp_path / "model", _build)
    torch.testing.assert_close(_logits(saved), _logits(holder), rtol=0, atol=0)
    assert not torch.allclose(_logits(saved), _logits(shard))


PROMPT_LEARNING = {"prefix", "prompt"}


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(
        strict=True, reason="PEFT recomputes the virtual tokens from the live module, not from the state dict given"))
    if name in PROMPT_LEARNING else name
    for name in METHODS.names() if METHODS.protocol(name) is TrainedMethod])
def test_save_writes_the_state_dict_it_is_given(name, tiny_model_dir, tmp_path):
    method = _method(name)
    model = method.apply(_build(str(tiny_model_dir)), ["classifier"])
    gathered = _gathered(model)
    method.save(model, tmp_path / "model", state_dict=gathered)
    holder = copy.deepcopy(model)
    holder.load_state_dict(gathered)
    saved = METHODS.get(name)(method.params).load(tmp_path / "model", _build)
    torch.testing.assert_close(_logits(saved), _logits(holder), rtol=0, atol=1e-6)
    assert not torch.allclose(_logits(saved), _logits(model), atol=1e-4)


@pytest.mark.parametrize("name", sorted(PROMPT_LEARNING))
def test_prompt_learning_is_refused_with_sharded_weights_before_anything_is_written(name):
    from finegrain.errors import ConfigError
    from finegrain.training.distributed import check_sharded_saving

    with pytest.raises(ConfigError, match=f"Method '{name}' cannot be trained with sharded weights") as refused:
        check_sharded_saving(_method(name), sharded=True)
    assert "--multi_gpu" in refused.value.hint
    check_sharded_saving(_method(name), sharded=False)  # data parallelism saves the one full copy
    for other in ("full", "lora", "tfidf"):
        check_sharded_saving(METHODS.get(other)(None), sharded=True)
