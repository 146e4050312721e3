"""A checkpoint without part of the task model's body (a masked-LM checkpoint has no pooler): those modules
start random like the head, so every method trains and saves them, and a reloaded run predicts as trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import finegrain
from finegrain.data.labels import LabelMap
from finegrain.tasks.modeling import build_pretrained, head_module_names, new_body_modules

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def masked_lm_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny BERT saved as a masked-LM checkpoint, as pretraining saves it: no pooler."""
    from transformers import AutoTokenizer, BertForMaskedLM

    path = tmp_path_factory.mktemp("tiny-mlm")
    torch.manual_seed(0)
    BertForMaskedLM.from_pretrained(str(tiny_model_dir)).save_pretrained(path)
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(path)
    return path


def test_only_modules_the_checkpoint_lacked_join_the_head(tiny_model_dir, masked_lm_dir):
    labels = LabelMap(["neg", "pos"])
    assert head_module_names(build_pretrained("sequence", str(tiny_model_dir), labels)) == ["classifier"]
    assert head_module_names(build_pretrained("sequence", str(masked_lm_dir), labels)) == ["classifier",
                                                                                          "bert.pooler.dense"]
    assert head_module_names(build_pretrained("token", str(masked_lm_dir), labels)) == ["classifier"]
    assert new_body_modules(["a.b.weight", "a.weight", "score.bias"]) == ["a"]


@pytest.mark.parametrize("method", ["lora", "adapter"])
def test_an_adapter_run_on_a_masked_lm_checkpoint_keeps_its_pooler(
        method, masked_lm_dir, sentiment_files, tmp_path):
    result = finegrain.train({
        "model": {"name": str(masked_lm_dir), "max_length": 32}, "method": {"name": method},
        "data": {"train": str(sentiment_files["train"]), "validation": str(sentiment_files["validation"])},
        "train": {"max_steps": 8, "eval_every": 4, "batch_size": 16, "lr": 1e-2, "precision": "fp32",
                  "log_every": 5},
        "output": str(tmp_path / "run"),
    })
    log = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    scored = [entry["eval"]["accuracy"] for entry in log if "eval" in entry]  # while training
    assert len(scored) == 2
    assert result.metrics["validation"]["accuracy"] == pytest.approx(max(scored))  # the best, saved and loaded
    texts = ["good great movie", "the day was awful and sad", "table chair blue"]
    first, second = (finegrain.load(result.run_dir).predict(texts) for _ in range(2))
    assert [p["scores"] for p in first] == [p["scores"] for p in second]  # nothing random is left at loading
