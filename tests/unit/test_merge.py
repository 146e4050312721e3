"""merge_run: mergeable runs export a plain model that reproduces the run; the others are refused."""

from __future__ import annotations

import json

import pytest
import torch

import finegrain
from finegrain.errors import ConfigError
from finegrain.serving import merge_run


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run_of(tmp_path_factory, tiny_model_dir, sentiment_files):
    def train(method: str, **params) -> object:
        output = tmp_path_factory.mktemp(method) / "run"
        return finegrain.train({
            "model": {"name": str(tiny_model_dir), "max_length": 32},
            "method": {"name": method, **params},
            "data": {name: str(path) for name, path in sentiment_files.items()},
            "train": {"max_steps": 20, "batch_size": 16, "lr": 1e-2, "log_every": 5},  # precision auto: bf16 where
            "output": str(output),                                                  # available; parity is fp32
        }).run_dir

    return train


@pytest.mark.parametrize("method", ["lora", "ia3", "bitfit"])
def test_merged_export_reproduces_the_run(method, run_of, tmp_path):
    from transformers import AutoModelForSequenceClassification

    run = run_of(method)
    parity = merge_run(run, tmp_path / "export")
    assert parity == json.loads((tmp_path / "export" / "parity.json").read_text())
    assert parity["merged"] == (method != "bitfit") and parity["split"] == "validation"
    assert parity["examples"] == 30
    assert parity["max_abs_logit_diff"] < 1e-4
    assert parity["label_agreement"] == 1.0
    assert parity["metric"] == "macro_f1" and parity["metric_after"] == parity["metric_before"]
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "export")
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.id2label == {0: "neg", 1: "neu", 2: "pos"}
    assert not any("lora" in n or "ia3" in n for n, _ in model.named_parameters())
    assert (tmp_path / "export" / "tokenizer.json").is_file()


def test_merged_weights_differ_from_the_base(run_of, tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    parity = merge_run(run_of("lora"), tmp_path / "export")
    merged = load_file(str(tmp_path / "export" / "model.safetensors"))
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    query = next(k for k in merged if k.endswith("layer.0.attention.self.query.weight"))
    key = next(k for k in base if k.endswith("layer.0.attention.self.query.weight"))
    assert not torch.equal(merged[query], base[key]), "LoRA's update was not folded into the weights"
    assert parity["max_abs_logit_diff"] < 1e-4


def test_prefix_run_is_refused_with_the_mergeable_methods(run_of, tmp_path):
    run = run_of("prefix", num_virtual_tokens=4)
    with pytest.raises(ConfigError, match="cannot be merged") as error:
        merge_run(run, tmp_path / "export")
    assert "lora" in error.value.hint and "ia3" in error.value.hint and "prefix" not in error.value.hint
    assert not (tmp_path / "export").exists()
