"""Runs that load their base model again (adapters, embeddings-lr) still load after being moved.

Each run is trained once in a folder with its base model beside it (``ROOT/tiny-bert``,
``ROOT/run``); the whole folder is then moved away, so the paths the run trained with are gone.
Each test copies that moved folder (or only the run) to a new place and loads it there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard

import finegrain
from finegrain.cli.main import main
from finegrain.errors import ModelError
from finegrain.models.base_reference import locate_base, portable_reference
from finegrain.models.catalog import ModelEntry
from finegrain.registry import MODELS
from finegrain.serving import export_run
from finegrain.training.logits_source import ModelLogits

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["good great movie", "the day was awful and sad", "table chair blue"]


def _train(root: Path, model_name: str, method: str, files: dict[str, Path], **params) -> Path:
    return finegrain.train({
        "model": {"name": model_name, "max_length": 32}, "method": {"name": method, **params},
        "data": {"train": str(files["train"]), "validation": str(files["validation"])},
        "train": {"max_steps": 6, "batch_size": 16, "lr": 1e-2, "precision": "fp32", "log_every": 5},
        "output": str(root / "run"),
    }).run_dir


@pytest.fixture(scope="module")
def moved(tmp_path_factory, tiny_model_dir, sentiment_files):
    """method -> (the moved folder holding run/ and tiny-bert/, the predictions made before the move)."""
    made: dict[str, tuple[Path, list]] = {}

    def get(method: str) -> tuple[Path, list]:
        if method not in made:
            root = tmp_path_factory.mktemp(f"trained-{method}")
            shutil.copytree(tiny_model_dir, root / "tiny-bert")
            run = _train(root, str(root / "tiny-bert"), method, sentiment_files)
            before = finegrain.load(run, "cpu").predict(TEXTS)
            away = tmp_path_factory.mktemp(f"moved-{method}") / "folder"
            shutil.move(root, away)
            made[method] = (away, before)
        return made[method]

    return get


def _same(got: list, want: list) -> None:
    assert [p["label"] for p in got] == [p["label"] for p in want]
    for a, b in zip(got, want):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-5)


@pytest.mark.parametrize("method", ["lora", "adapter", "embeddings-lr"])
def test_a_run_moved_with_its_base_beside_it_loads_by_itself(method, moved, tmp_path):
    folder, before = moved(method)
    there = shutil.copytree(folder, tmp_path / "elsewhere" / "deeper")
    _same(finegrain.load(there / "run", "cpu").predict(TEXTS), before)
    assert json.loads((there / "run" / "run.json").read_text())["base_model"] == "../tiny-bert"


@pytest.mark.parametrize("method", ["lora", "adapter", "embeddings-lr"])
def test_a_run_moved_without_its_base_names_what_it_recorded_and_takes_base(method, moved, tmp_path, capsys):
    folder, before = moved(method)
    run = shutil.copytree(folder / "run", tmp_path / "alone" / "run")
    with pytest.raises(ModelError) as caught:
        finegrain.load(run, "cpu")
    message = str(caught.value)
    assert "'../tiny-bert'" in message and str((tmp_path / "alone" / "tiny-bert").resolve()) in message
    assert "--base PATH" in message and "base=PATH" in message

    base = shutil.copytree(folder / "tiny-bert", tmp_path / "models" / "bert")
    _same(finegrain.load(run, "cpu", base=str(base)).predict(TEXTS), before)

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    assert main(["predict", str(run), "--input", str(texts)]) == 2
    assert "--base" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(texts), "--base", str(base)]) == 0
    got = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["label"] for p in got] == [p["label"] for p in before]


def test_a_wrong_base_is_named_as_the_given_one(moved, tmp_path):
    folder, _ = moved("lora")
    with pytest.raises(ModelError, match=r"--base / base=.*does not exist"):
        finegrain.load(folder / "run", "cpu", base=str(tmp_path / "nowhere"))


def test_eval_and_export_take_base(moved, tmp_path, capsys):
    folder, _ = moved("lora")
    run = shutil.copytree(folder / "run", tmp_path / "alone" / "run")
    base = shutil.copytree(folder / "tiny-bert", tmp_path / "bert")
    assert main(["eval", str(run)]) == 2
    assert "--base" in capsys.readouterr().err
    assert main(["eval", str(run), "--base", str(base)]) == 0
    report = export_run(run, "hf", tmp_path / "merged", base=str(base))
    assert report["merged"] and report["label_agreement"] == 1.0


def test_peft_opens_the_saved_adapter_with_a_base_the_user_gives(moved, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    folder, _ = moved("lora")
    there = shutil.copytree(folder, tmp_path / "copy")
    config = json.loads((there / "run" / "model" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "../tiny-bert"
    base = AutoModelForSequenceClassification.from_pretrained(there / "tiny-bert", num_labels=3)
    model = PeftModel.from_pretrained(base, there / "run" / "model").eval()
    ours = finegrain.load(there / "run", "cpu").source
    assert isinstance(ours, ModelLogits)  # a PyTorch run: its model and tokenizer, as prediction runs them
    features = ours.encoding.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(model(**features).logits, ours.model(**features).logits, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("method", "params"), [("tfidf", {}), ("setfit", {"num_iterations": 1})])
def test_tfidf_and_setfit_runs_need_no_base_model(method, params, tmp_path, tiny_model_dir, sentiment_files):
    shutil.copytree(tiny_model_dir, tmp_path / "tiny-bert")
    run = _train(tmp_path, str(tmp_path / "tiny-bert"), method, sentiment_files, **params)
    before = finegrain.load(run, "cpu").predict(TEXTS)
    shutil.rmtree(tmp_path / "tiny-bert")
    assert ("base_model" in json.loads((run / "run.json").read_text())) == (method == "setfit")  # tfidf has none
    _same(finegrain.load(run, "cpu").predict(TEXTS), before)


def test_a_run_on_a_registered_model_finds_it_by_name_again(tmp_path, tiny_model_dir, sentiment_files, monkeypatch):
    first = shutil.copytree(tiny_model_dir, tmp_path / "cache" / "tiny")
    entry = ModelEntry("a tiny test BERT", "en", lambda: first)
    monkeypatch.setitem(MODELS._entries, "default", entry)
    run = _train(tmp_path / "runs", "default", "lora", sentiment_files)
    config = json.loads((run / "model" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "default"
    assert json.loads((run / "run.json").read_text())["base_model"] == "default"
    card = ModelCard.load(run / "model" / "README.md").data
    assert (card.base_model, card.language) == ("default", "en")
    before = finegrain.load(run, "cpu").predict(TEXTS)

    moved = tmp_path / "another-venv" / "tiny"
    moved.parent.mkdir()
    shutil.move(first, moved)
    monkeypatch.setitem(MODELS._entries, "default", ModelEntry("a tiny test BERT", "en", lambda: moved))
    (tmp_path / "copied").mkdir()
    run = shutil.move(run, tmp_path / "copied" / "run")
    _same(finegrain.load(run, "cpu").predict(TEXTS), before)


def test_references_name_registered_models_hub_models_and_folders_relative_to_the_run(tmp_path, tiny_model_dir):
    inside = shutil.copytree(tiny_model_dir, tmp_path / "run" / "base")
    assert portable_reference("minilm-l6", "/any/venv/site-packages/model", tmp_path / "run") == "default"
    assert portable_reference("org/model", "org/model", tmp_path / "run") == "org/model"
    assert portable_reference(str(inside), str(inside), tmp_path / "run") == "./base"
    assert locate_base("./base", tmp_path / "run") == str(inside.resolve())


def test_a_run_that_recorded_an_absolute_path_falls_back_to_its_registered_name(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setitem(MODELS._entries, "default", ModelEntry("a tiny test BERT", "en", lambda: tiny_model_dir))
    gone = str(tmp_path / "old-venv" / "site-packages" / "model")
    assert locate_base(gone, tmp_path / "run", hints=(gone, "default")) == str(tiny_model_dir)
    with pytest.raises(ModelError, match="old-venv"):
        locate_base(gone, tmp_path / "run", hints=(gone,))
