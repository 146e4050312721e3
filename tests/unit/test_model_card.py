"""Every run's model/README.md is a Hugging Face model card that huggingface_hub reads back."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard

import finegrain
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

PEFT_TEMPLATE = ("Model Card for Model ID", "[More Information Needed]")


def _card(run) -> tuple[ModelCard, dict]:
    card = ModelCard.load(run / "model" / "README.md")
    return card, card.data.to_dict()


def test_an_adapter_run_card_replaces_peft_template_and_names_the_recorded_base(
        tmp_path_factory, tiny_model_dir, sentiment_files):
    run = train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, method="lora")
    card, data = _card(run)
    info, metrics = json.loads((run / "run.json").read_text()), json.loads((run / "metrics.json").read_text())
    assert not any(text in card.text for text in PEFT_TEMPLATE)
    assert data["base_model"] == info["base_model"] and not data["base_model"].startswith("/")
    assert str(tiny_model_dir) not in str(card)  # no machine's absolute path
    assert data["library_name"] == "peft" and data["pipeline_tag"] == "text-classification"
    assert set(data["tags"]) >= {"finegrain", "classification", "lora"}
    result = card.data.eval_results[0]
    assert (result.metric_type, result.dataset_split) == ("macro_f1", "validation")
    assert result.metric_value == pytest.approx(metrics["validation"]["macro_f1"])
    share = f"{info['parameters']['trainable']:,} of {info['parameters']['total']:,} parameters trained"
    for text in (share, "`neg`, `neu`, `pos`", "`train.csv` | 120", "## Intended use and limits",
                 "no test split", f"finegrain {finegrain.__version__}", "PeftModel.from_pretrained"):
        assert text in card.text, text


def test_a_full_run_card_is_a_transformers_card(tmp_path_factory, tiny_model_dir, sentiment_files):
    card, data = _card(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files))
    assert data["library_name"] == "transformers" and data["tags"][-1] == "full"
    assert "PeftModel" not in card.text


def test_a_prefix_run_card_offers_no_peft_snippet_peft_cannot_run(tmp_path):
    from finegrain.training.run_record import folder_library

    for peft_type, library in (("LORA", "peft"), ("PROMPT_TUNING", "peft"), ("PREFIX_TUNING", None)):
        (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": peft_type}))
        assert folder_library(tmp_path) == library, peft_type


def test_a_tfidf_run_card_has_no_base_model(tmp_path, sentiment_files, tiny_model_dir):
    run = finegrain.train({"model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": "tfidf"},
                           "data": {name: str(path) for name, path in sentiment_files.items()},
                           "output": str(tmp_path / "tfidf")}).run_dir
    card, data = _card(run)
    assert "base_model" not in data and "library_name" not in data
    assert card.data.eval_results[0].dataset_split == "test" and "30 test examples from `test.csv`" in card.text


def test_a_pretraining_run_card_describes_the_corpus(tmp_path):
    from finegrain.pretraining.config import load_pretrain_config
    from finegrain.pretraining.runner import run_pretraining

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the movie number {i} was good and the food was bad" for i in range(300)))
    result = run_pretraining(load_pretrain_config({
        "model": {"vocab_size": 60, "layers": 1, "hidden": 16, "heads": 2, "max_length": 32},
        "data": {"train": [str(corpus)], "validation_fraction": 0.1},
        "train": {"max_steps": 4, "batch_size": 16, "eval_every": 2}, "output": str(tmp_path / "pre")}))
    card, data = _card(tmp_path / "pre")
    assert data["pipeline_tag"] == "fill-mask" and "base_model" not in data
    assert "pretrained from scratch" in card.text and "`corpus.txt`" in card.text
    assert f"{result.metrics['validation']['loss']:.4f}" in card.text
