"""ELECTRA pretraining (generator + discriminator in the one loop) and jieba whole-word masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finegrain.errors import ConfigError
from finegrain.pretraining.config import load_pretrain_config
from finegrain.pretraining.electra import corrupt, new_electra
from finegrain.pretraining.masking import encode_documents, mask_batch, pad_batch
from test_pretraining import _config, _documents, _pretrain

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(_documents(400)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def electra_run(corpus, tmp_path_factory):
    output = tmp_path_factory.mktemp("electra") / "pre"
    config = _config(corpus, output, objective={"name": "electra", "generator_size": 0.5},
                     train={"max_steps": 30, "eval_every": 15})
    return _pretrain(config), output


def test_a_sample_equal_to_the_original_is_labelled_original():
    input_ids = torch.tensor([[2, 4, 4, 4, 9, 3]])
    labels = torch.tensor([[-100, 7, 8, -100, 9, -100]])
    corrupted, replaced = corrupt(input_ids, labels, sampled=torch.tensor([7, 5, 6]))
    assert corrupted.tolist() == [[2, 7, 5, 4, 6, 3]]
    assert replaced.tolist() == [[False, False, True, False, True, False]]


def test_generator_shares_the_embeddings_and_is_a_quarter_as_wide():
    model = new_electra(vocab_size=50, layers=2, hidden=256, heads=4, intermediate=None, max_length=32, pad_id=0,
                        generator_size=0.25)
    assert model.generator.electra.embeddings is model.model.electra.embeddings
    assert model.generator.generator_lm_head.weight is model.model.electra.embeddings.word_embeddings.weight
    assert model.generator.config.hidden_size == 64 and model.generator.config.num_attention_heads == 1
    assert model.generator.config.num_hidden_layers == model.model.config.num_hidden_layers == 2


def test_joint_loss_is_finite_and_the_discriminator_learns(electra_run):
    result, output = electra_run
    initial, final = result.metrics["initial"], result.metrics["validation"]
    assert torch.isfinite(torch.tensor(final["loss"]))
    assert final["loss"] == pytest.approx(final["generator_loss"] + 50 * final["discriminator_loss"], abs=1e-3)
    assert final["discriminator_loss"] < initial["discriminator_loss"] - 0.1
    assert final["discriminator_accuracy"] > initial["discriminator_accuracy"]
    assert final["generator_loss"] < initial["generator_loss"]
    info = json.loads((output / "run.json").read_text())
    assert info["objective"] == "electra" and info["corpus"]["characters"] > 10_000


def test_the_saved_discriminator_is_fine_tuned(electra_run, tmp_path, sentiment_files):
    from transformers import AutoModelForSequenceClassification, ElectraForPreTraining

    from finegrain import train

    result, output = electra_run
    saved = ElectraForPreTraining.from_pretrained(result.model_dir)
    assert not any(key.startswith("generator") for key in saved.state_dict())
    run = train({"model": {"name": str(output), "max_length": 32},
                 "data": {name: str(path) for name, path in sentiment_files.items()},
                 "train": {"max_steps": 2, "batch_size": 8, "lr": 1e-4}, "output": str(tmp_path / "tuned")})
    tuned = AutoModelForSequenceClassification.from_pretrained(run.run_dir / "model")
    assert type(tuned).__name__ == "ElectraForSequenceClassification"
    moved = (tuned.electra.embeddings.word_embeddings.weight - saved.electra.embeddings.word_embeddings.weight)
    assert moved.abs().max() < 1e-2  # started from the pretrained discriminator, not from random weights


def test_electra_settings_are_checked(tmp_path):
    base = {"data": {"train": ["x.txt"]}, "output": str(tmp_path)}
    with pytest.raises(ConfigError, match="objective.generator_size only apply to objective.name=electra"):
        load_pretrain_config({**base, "objective": {"generator_size": 0.5}})
    with pytest.raises(ConfigError, match="continues a checkpoint"):
        load_pretrain_config({**base, "objective": "electra", "model": {"name": "tiny"}})
    with pytest.raises(ConfigError, match="whole_word=true"):
        load_pretrain_config({**base, "masking": {"segmenter": "jieba", "whole_word": False}})
    assert load_pretrain_config({**base, "objective": "electra"}).objective.discriminator_weight == 50.0




def test_jieba_whole_word_masking_masks_every_character_of_a_word(monkeypatch, tmp_path):
    from finegrain.pretraining.segmenter import character_words
    from finegrain.pretraining.tokenizer import train_tokenizer

    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path))
    text = "我们今天去北京天安门看升旗仪式"
    tokenizer = train_tokenizer([text] * 3, vocab_size=19, lowercase=True, max_length=64, min_frequency=1)
    [feature] = encode_documents([text], tokenizer, 64, pack=False, segment=character_words)
    assert feature["input_ids"][1:-1] == tokenizer(text, add_special_tokens=False)["input_ids"]  # characters
    words = feature["word_ids"][1:-1]
    assert words[5:10] == [words[5], words[5], words[7], words[7], words[7]]  # 北京 天安门
    assert words[5] != words[7]
    batch = pad_batch([feature] * 400, tokenizer.pad_token_id)
    masked = mask_batch(batch, probability=0.15, whole_word=True, mask_id=tokenizer.mask_token_id,
                        vocab_size=len(tokenizer), generator=torch.Generator().manual_seed(0))
    chosen = (masked["labels"] != -100)[:, 1:-1]
    assert (chosen[:, 7] == chosen[:, 8]).all() and (chosen[:, 7] == chosen[:, 9]).all()
    assert (chosen[:, 5] == chosen[:, 6]).all()
    assert chosen[:, 5].any() and not (chosen[:, 5] == chosen[:, 7]).all()  # words drawn apart
    assert chosen.float().mean().item() == pytest.approx(0.15, abs=0.02)  # the rate is of tokens, not words


def test_words_no_token_starts_in_leave_no_gap_in_a_sequences_word_numbers(monkeypatch, tmp_path):
    """Spaces are the segmenter's words but no token's: numbered as they came, a packed sequence's last word
    could pass its length, where masking draws its coins (an IndexError in pretrain_objectives' wwm run)."""
    from finegrain.pretraining.segmenter import character_words
    from finegrain.pretraining.tokenizer import train_tokenizer

    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path))
    text = " ".join("我们去北京") + " " * 40 + " ".join("天安门看升旗")
    tokenizer = train_tokenizer([text] * 3, vocab_size=16, lowercase=True, max_length=16, min_frequency=1)
    features = encode_documents([text] * 4, tokenizer, 16, pack=True, segment=character_words)
    for feature in features:
        words = [w for w in feature["word_ids"] if w >= 0]
        assert words == sorted(words) and set(words) == set(range(len(set(words))))  # 0, 1, ... in order
    batch = pad_batch(features, tokenizer.pad_token_id)
    masked = mask_batch(batch, probability=0.5, whole_word=True, mask_id=tokenizer.mask_token_id,
                        vocab_size=len(tokenizer), generator=torch.Generator().manual_seed(0))
    assert (masked["labels"] != -100).any()


def test_an_interrupted_electra_run_resumes_with_its_embeddings_still_shared(corpus, tmp_path, monkeypatch):
    from finegrain.pretraining.electra import ElectraObjective

    def config(name: str) -> dict:
        return _config(corpus, tmp_path / name, objective="electra", train={"checkpoint_every": 2})

    # (from scratch, two runs train tokenizers that can differ: tokenizers#1794; so no comparison with a whole run)
    original, calls = ElectraObjective.loss, {"n": 0}

    def interrupted(self, logits, batch):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return original(self, logits, batch)

    with monkeypatch.context() as patch:
        patch.setattr(ElectraObjective, "loss", interrupted)
        with pytest.raises(KeyboardInterrupt):
            _pretrain(config("killed"))
    import finegrain.pretraining.runner as runner

    models = []
    build = runner._build_model
    monkeypatch.setattr(runner, "_build_model", lambda *args: models.append(build(*args)) or models[-1])
    resumed = _pretrain(config("killed"), resume=True)
    assert models[0].generator.electra.embeddings is models[0].model.electra.embeddings
    assert json.loads((tmp_path / "killed" / "run.json").read_text())["steps"] == 12
    # the checkpoint's weights came back: training went on from step 8, not from the random start
    assert resumed.metrics["validation"]["loss"] < resumed.metrics["initial"]["loss"] - 1


def test_a_built_in_corpus_reads_only_the_training_text_never_labels_or_other_splits(monkeypatch):
    import pandas as pd

    from finegrain.data.builtin import BuiltinDataset, DatasetCard
    from finegrain.pretraining import corpora

    frames = {split: pd.DataFrame({"text": [f"{split}问{i}" for i in range(3)], "text_pair": [f"{split}答"] * 3,
                                   "label": ["标签"] * 3, "row": [1, 2, 3]}) for split in ("validation", "test")}
    frames["train"] = pd.DataFrame({"text": ["问一", "问二"], "text_pair": ["答一", "问一"], "label": ["标签", "标签"],
                                    "row": [1, 2]})
    card = DatasetCard("pairs", "", "zh", "", "", "", "", ("标签",))
    dataset = BuiltinDataset(card, lambda: pd.DataFrame(), split=lambda rows, card: frames)
    monkeypatch.setattr(corpora.DATASETS, "get", lambda name: dataset)
    assert corpora.train_text("pairs") == ["问一", "答一", "问二", "问一"]


def test_duplicates_are_dropped_before_the_held_out_split(tmp_path):
    from finegrain.pretraining.config import CorpusConfig
    from finegrain.pretraining.runner import _read_corpus

    path = tmp_path / "repeats.txt"
    path.write_text("\n".join(["同一句话"] * 50 + [f"第{i}句" for i in range(50)]), encoding="utf-8")
    train, held = _read_corpus(CorpusConfig(train=[str(path)], validation_fraction=0.2), seed=0)
    assert len(train) + len(held) == 51 and not set(train) & set(held)
    kept = _read_corpus(CorpusConfig(train=[str(path)], validation_fraction=0.2, deduplicate=False), seed=0)
    assert sum(map(len, kept)) == 100


def test_the_chinese_corpora_are_registered():
    from finegrain.pretraining.corpora import CORPORA, ZH_CORPORA

    assert set(ZH_CORPORA) <= set(CORPORA.names()) and "zh-all" in CORPORA.names()
    assert all(CORPORA.get(name).language == "zh" for name in ZH_CORPORA)


def test_preset_states_its_time_builds_once_and_a_model_built_only_when_asked_says_how(corpus, tmp_path,
                                                                                        monkeypatch, capsys):
    from finegrain.cli.main import main
    from finegrain.models.catalog import resolve_model
    from finegrain.pretraining import zoo

    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path / "cache"))
    assert main(["pretrain", "--preset", "zh-medum"]) == 2
    assert "Did you mean 'zh-medium'" in capsys.readouterr().err
    assert main(["pretrain", "--preset", "zh-medium", "train.max_steps=2"]) == 2
    assert main(["train", "--data", "chinese-reviews", "--model", "zh-medium"]) == 2
    assert "finegrain pretrain --preset zh-medium" in capsys.readouterr().err
    tiny = {key: value for key, value in _config(corpus, tmp_path, objective="electra",
                                                 train={"max_steps": 2, "eval_every": 2}).items() if key != "output"}
    monkeypatch.setitem(zoo.PRESETS, "zh-medium", zoo.Preset(tiny, 75, on_first_use=False))
    assert main(["pretrain", "--preset", "zh-medium"]) == 0
    captured = capsys.readouterr()
    assert "about 75 minutes on 2 CPU cores" in captured.err and "model.name=zh-medium" in captured.out
    assert resolve_model("zh-medium") == str(tmp_path / "cache" / "models" / "zh-medium" / "model")


def test_the_presets_validate():
    from finegrain.pretraining.zoo import PRESETS

    for name, preset in PRESETS.items():
        assert load_pretrain_config({**preset.settings, "output": name}).output == name
