"""Pretraining: tokenizer, packing, whole-word masking, the run (loss, resume, chaining), bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from conftest import FILLER, WORDS
from finegrain.errors import ConfigError, DataError, ModelError
from finegrain.pretraining.config import load_pretrain_config
from finegrain.pretraining.corpora import strip_tags
from finegrain.pretraining.masking import encode_documents, mask_batch, pad_batch
from finegrain.pretraining.tokenizer import train_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

CHINESE = "我们今天去北京天安门看升旗仪式人民很高兴新年快乐中国经济发展迅速"


def _documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = FILLER + [w for group in WORDS.values() for w in group]
    docs = []
    for i in range(n):
        english = " ".join(rng.choice(words) for _ in range(rng.randint(3, 9)))
        docs.append(english if i % 2 else english + " " + "".join(rng.sample(CHINESE, rng.randint(2, 6))))
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(_documents(400)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(_documents(200), vocab_size=120, lowercase=True, max_length=32)


def _config(corpus: Path, output: Path, **sections) -> dict:
    base = {"model": {"vocab_size": 120, "layers": 1, "hidden": 32, "heads": 2, "max_length": 32},
            "data": {"train": [str(corpus)], "validation_fraction": 0.1},
            "train": {"max_steps": 12, "batch_size": 16, "lr": 3e-3, "eval_every": 6, "log_every": 4},
            "output": str(output)}
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return base


def _pretrain(config: dict, **kwargs):
    from finegrain.pretraining.runner import run_pretraining

    return run_pretraining(load_pretrain_config(config), **kwargs)


def test_tokenizer_makes_every_cjk_character_a_token():
    tokenizer = train_tokenizer(["我们喜欢北京 hello world", "ひらがなとカタカナ hello there"] * 3, vocab_size=40,
                                lowercase=True, max_length=16)
    assert tokenizer.tokenize("我们北京") == ["我", "们", "北", "京"]
    assert tokenizer.tokenize("ひらがな") == ["ひ", "ら", "が", "な"]  # voicing marks kept
    assert tokenizer.tokenize("Hello") == ["hello"]
    assert tokenizer("我们")["input_ids"][0] == tokenizer.cls_token_id


def test_vocabulary_larger_than_the_corpus_can_fill_says_how_large_it_can_be():
    with pytest.raises(ConfigError, match=r"vocab_size=5000 is larger than this corpus can fill.*only \d+"):
        train_tokenizer(["tiny corpus of few words"] * 5, vocab_size=5000, lowercase=True, max_length=16)


def test_packing_fills_sequences_and_unpacked_keeps_documents_apart(tokenizer):
    docs = ["good day", "bad movie was boring", "我们", "nice food"] * 10
    packed = encode_documents(docs, tokenizer, 16, pack=True)
    assert all(len(f["input_ids"]) == 16 for f in packed[:-1])
    assert all(f["input_ids"][0] == tokenizer.cls_token_id and f["input_ids"][-1] == tokenizer.sep_token_id
               for f in packed)
    assert tokenizer.sep_token_id in packed[0]["input_ids"][1:-1]  # documents separated inside a sequence
    unpacked = encode_documents(docs, tokenizer, 16, pack=False)
    assert len(unpacked) == len(docs) and len(packed) < len(docs) / 2
    total = sum(len(tokenizer.tokenize(d)) for d in docs)
    assert sum(len(f["input_ids"]) - 2 for f in unpacked) == total  # no text lost


def test_whole_word_masking_masks_all_pieces_of_a_word_together(tokenizer):
    docs = ["unbelievably wonderfulness goodness 我们北京"] * 64
    features = encode_documents(docs, tokenizer, 32, pack=False)
    batch = pad_batch(features, tokenizer.pad_token_id)
    assert (batch["word_ids"][0] >= 0).sum() > len(set(batch["word_ids"][0].tolist())) - 1  # words in pieces
    masked = mask_batch(batch, probability=0.3, whole_word=True, mask_id=tokenizer.mask_token_id,
                        vocab_size=len(tokenizer), generator=torch.Generator().manual_seed(0))
    chosen = masked["labels"] != -100
    for row in range(len(features)):
        for word in set(batch["word_ids"][row].tolist()) - {-1}:
            in_word = batch["word_ids"][row] == word
            assert chosen[row][in_word].all() or not chosen[row][in_word].any()
    assert not chosen[batch["word_ids"] < 0].any()  # never [CLS], [SEP] or padding
    assert (masked["labels"][chosen] == batch["input_ids"][chosen]).all()
    rate = chosen.sum().item() / (batch["word_ids"] >= 0).sum().item()
    assert 0.2 < rate < 0.4
    share_masked = (masked["input_ids"][chosen] == tokenizer.mask_token_id).float().mean().item()
    assert 0.7 < share_masked < 0.9  # 80% [MASK], the rest random or kept


def test_token_masking_splits_words(tokenizer):
    features = encode_documents(["unbelievably wonderfulness goodness"] * 64, tokenizer, 32, pack=False)
    batch = pad_batch(features, tokenizer.pad_token_id)
    masked = mask_batch(batch, probability=0.5, whole_word=False, mask_id=tokenizer.mask_token_id,
                        vocab_size=len(tokenizer), generator=torch.Generator().manual_seed(0))
    chosen = masked["labels"] != -100
    split_words = sum(0 < chosen[row][batch["word_ids"][row] == w].sum() < (batch["word_ids"][row] == w).sum()
                      for row in range(len(features)) for w in set(batch["word_ids"][row].tolist()) - {-1})
    assert split_words > 0


def test_strip_tags_of_peoples_daily():
    assert strip_tags("迈向/v  充满/v  [中国/ns  政府/n]nt  ——/w") == "迈向充满中国政府——"


def test_peoples_daily_leaves_out_the_sentences_built_ins_evaluate_on(monkeypatch, tmp_path):
    """msra-ner's test news and zh-spelling-synth's validation sentences are People's Daily's own: a model
    pretrained on the corpus must not have read them."""
    from types import SimpleNamespace

    import pandas as pd

    from finegrain.data import builtin
    from finegrain.pretraining import corpora

    tagged = tmp_path / "199801.txt"
    tagged.write_text("新华社/nt  北京/ns  一月/t  一日/t  电/n  。/w  "
                      "今年/t  的/u  经济/n  增长/v  超过/v  了/u  预期/n  。/w\n"
                      "今天/t  天气/n  很/d  好/a  。/w\n", encoding="utf-8")
    monkeypatch.setattr(builtin, "package_file", lambda package, path: tagged)
    frames = {"msra-ner": {"train": pd.DataFrame({"tokens": [list("今天天气很好")]}),
                           "test": pd.DataFrame({"tokens": [list("今年的经济增长超过了预期")], "tags": [["O"] * 12]})},
              "zh-spelling-synth": {"validation": pd.DataFrame({"source": ["新华社北京一月一日店"],
                                                                "target": ["新华社北京一月一日电"]})}}
    cards = {"msra-ner": "tokens", "zh-spelling-synth": "source"}
    monkeypatch.setattr(corpora.DATASETS, "get", lambda name: SimpleNamespace(
        load=lambda: frames[name], card=SimpleNamespace(text_column=cards[name])))
    assert corpora.evaluation_text("msra-ner") == ["今年的经济增长超过了预期"]  # train text and tags are not
    assert corpora.evaluation_text("zh-spelling-synth") == ["新华社北京一月一日店", "新华社北京一月一日电"]
    assert corpora.CORPORA.get("peoples-daily-1998").read() == ["今天天气很好。"]


def test_from_scratch_loss_decreases_then_train_uses_the_output(corpus, tmp_path, sentiment_files):
    result = _pretrain(_config(corpus, tmp_path / "pre"))
    assert result.metrics["validation"]["loss"] < result.metrics["initial"]["loss"] - 0.15
    info = json.loads((tmp_path / "pre" / "run.json").read_text())
    assert info["status"] == "finished" and info["timing"]["tokens_per_second"] > 0
    assert (result.model_dir / "tokenizer.json").is_file()

    from finegrain import train
    from finegrain.models.catalog import resolve_model

    assert resolve_model(str(tmp_path / "pre")) == str(result.model_dir.resolve())
    runs = {}
    for name, random_init in (("pretrained", False), ("random", True)):
        runs[name] = train({"model": {"name": str(tmp_path / "pre"), "max_length": 32, "random_init": random_init},
                            "data": {name: str(path) for name, path in sentiment_files.items()},
                            "train": {"max_steps": 2, "batch_size": 8, "lr": 1e-3}, "output": str(tmp_path / name)})
    from transformers import AutoModelForSequenceClassification

    embeddings = {name: AutoModelForSequenceClassification.from_pretrained(run.run_dir / "model")
                  .bert.embeddings.word_embeddings.weight for name, run in runs.items()}
    from transformers import AutoModelForMaskedLM

    source = AutoModelForMaskedLM.from_pretrained(result.model_dir).bert.embeddings.word_embeddings.weight
    # two small steps move the weights a little: the pretrained run starts from them, the random one does not
    assert (embeddings["pretrained"] - source).abs().mean() < (embeddings["random"] - source).abs().mean() / 5


def _interrupt_at_batch(monkeypatch, batch: int) -> None:
    from finegrain.pretraining.objective import MaskedLMObjective

    original, calls = MaskedLMObjective.loss, {"n": 0}

    def interrupted(self, logits, labels):
        calls["n"] += 1
        if calls["n"] == batch:
            raise KeyboardInterrupt
        return original(self, logits, labels)

    monkeypatch.setattr(MaskedLMObjective, "loss", interrupted)


def _step_saved(output: Path) -> int:
    return json.loads((output / "checkpoints" / "last" / "trainer_state.json").read_text())["global_step"]


def test_resume_after_interruption_matches_an_uninterrupted_run(corpus, tmp_path, tiny_model_dir, monkeypatch):
    def config(name: str) -> dict:
        return {**_config(corpus, tmp_path / name, train={"checkpoint_every": 2, "eval_every": 6}),
                "model": {"name": str(tiny_model_dir), "max_length": 32}}

    whole = _pretrain(config("whole"))
    with monkeypatch.context() as patch:
        _interrupt_at_batch(patch, 9)
        with pytest.raises(KeyboardInterrupt):
            _pretrain(config("killed"))
    assert _step_saved(tmp_path / "killed") == 8 and not (tmp_path / "killed" / "metrics.json").exists()
    assert _pretrain(config("killed"), resume=True).metrics == whole.metrics


def test_resume_from_scratch_reuses_the_trained_tokenizer(corpus, tmp_path, monkeypatch):
    # The tokenizers library's WordPiece trainer breaks count ties in hash order (tokenizers#1794),
    # so a resumed run must load the saved tokenizer, never train a new one.
    config = _config(corpus, tmp_path / "scratch", train={"checkpoint_every": 2})
    with monkeypatch.context() as patch:
        _interrupt_at_batch(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            _pretrain(config)
    saved = (tmp_path / "scratch" / "tokenizer" / "tokenizer.json").read_bytes()
    import finegrain.pretraining.runner as runner

    monkeypatch.setattr(runner, "train_tokenizer", lambda *a, **k: pytest.fail("trained a new tokenizer"))
    result = _pretrain(config, resume=True)
    assert (result.model_dir / "tokenizer.json").read_bytes() == saved
    assert json.loads((tmp_path / "scratch" / "run.json").read_text())["steps"] == 12


def test_continue_from_a_checkpoint_without_mlm_head(corpus, tmp_path, tiny_model_dir):
    config = _config(corpus, tmp_path / "continued", train={"max_steps": 4, "eval_every": 4})
    config["model"] = {"name": str(tiny_model_dir), "max_length": 32}
    result = _pretrain(config)
    assert result.metrics["validation"]["loss"] < result.metrics["initial"]["loss"]
    saved = json.loads((result.model_dir / "config.json").read_text())
    assert saved["architectures"] == ["BertForMaskedLM"] and saved["hidden_size"] == 32
    from finegrain.pretraining.model import load_masked_lm

    model = load_masked_lm(str(tiny_model_dir)).model  # the head is new, and its decoder is the embeddings
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight


@pytest.mark.parametrize("content, match", [
    ("", "corpus is empty"),
    ("one short line\nand another\n", r"too small.*needs at least 8 sequences"),
])
def test_empty_or_tiny_corpus_says_how_much_is_needed(tmp_path, content, match):
    corpus = tmp_path / "c.txt"
    corpus.write_text(content, encoding="utf-8")
    config = _config(corpus, tmp_path / "out", model={"vocab_size": 32})
    with pytest.raises((DataError, ConfigError), match=match):
        _pretrain(config)


def test_binary_file_is_refused(tmp_path):
    binary = tmp_path / "weights.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    with pytest.raises(DataError, match="binary"):
        _pretrain(_config(binary, tmp_path / "out"))


def test_a_utf16_corpus_with_its_bom_is_read_like_utf8(tmp_path):
    from finegrain.pretraining.corpus import read_documents

    lines = ["第一行 text", "second line"]
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("\n".join(lines).encode("utf-16"))  # BOM first, as Windows editors save it
    assert read_documents(str(utf16)) == lines
    latin = tmp_path / "latin.txt"
    latin.write_bytes("ok\ncaf\xe9".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8") as error:
        read_documents(str(latin))
    assert error.value.where.endswith("latin.txt:2:4")


def test_non_bert_checkpoint_lists_the_architectures_that_work(corpus, tmp_path):
    folder = tmp_path / "gpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    from finegrain.pretraining.model import load_masked_lm

    with pytest.raises(ModelError, match=r"'gpt2' model, not a BERT-like encoder") as error:
        load_masked_lm(str(folder))
    assert "bert" in error.value.hint and "roberta" in error.value.hint


def test_config_errors_all_at_once(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_pretrain_config({"model": {"hidden": 100, "heads": 3}, "data": {"train": "x.txt"},
                              "masking": {"probabilty": 0.2}, "output": "o"})
    text = error.value.message
    assert "not divisible by model.heads=3" in text and "Did you mean 'probability'" in text
    assert "2 problem(s)" in text


def test_zh_small_settings_match_the_shipped_config_and_build_once(corpus, tmp_path, monkeypatch):
    from finegrain.pretraining import zoo

    shipped = yaml.safe_load((Path(__file__).parents[2] / "configs" / "pretrain-zh-small.yaml").read_text())
    shipped.pop("output")
    assert load_pretrain_config({**shipped, "output": "x"}) == load_pretrain_config({**zoo.ZH_SMALL, "output": "x"})

    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path / "cache"))
    tiny = {key: value for key, value in _config(corpus, tmp_path).items() if key != "output"}
    first = zoo.build_cached("tiny-zh", tiny)
    assert first == tmp_path / "cache" / "models" / "tiny-zh" / "model" and (first / "config.json").is_file()
    import finegrain.pretraining.runner as runner

    monkeypatch.setattr(runner, "run_pretraining", lambda *a, **k: pytest.fail("rebuilt a cached model"))
    assert zoo.build_cached("tiny-zh", tiny) == first


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs").glob("pretrain-*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_pretraining_configs_validate(path):
    assert load_pretrain_config(path).output


def test_cli_pretrain(corpus, tmp_path, capsys):
    from finegrain.cli.main import main

    path = tmp_path / "pretrain.yaml"
    path.write_text(yaml.safe_dump(_config(corpus, tmp_path / "cli", train={"max_steps": 2, "eval_every": 2})))
    assert main(["pretrain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "held-out" in out and out.count("masked-LM loss ") == 2 and "  perplexity " in out and "  accuracy " in out
    records = [json.loads(line) for line in (tmp_path / "cli" / "log.jsonl").read_text().splitlines()]
    evaluations = [record["eval"] for record in records if "eval" in record]
    assert evaluations and all(set(e) == {"step", "epoch", "negative_loss", "loss", "perplexity", "accuracy"} for e in evaluations)
    assert main(["pretrain", str(path), "masking.whole_wrd=true"]) == 2
    assert "Did you mean 'whole_word'" in capsys.readouterr().err


def test_failed_pretrain_leaves_no_stub_and_failed_overwrite_keeps_the_model(corpus, tmp_path, capsys):
    from finegrain.cli.main import main

    path = tmp_path / "pretrain.yaml"
    path.write_text(yaml.safe_dump(_config(corpus, tmp_path / "out", train={"max_steps": 2, "eval_every": 2})))
    too_large = "model.vocab_size=5000"  # more than this corpus can fill: fails after the output is opened
    assert main(["pretrain", str(path), too_large]) == 2
    assert "vocab_size=5000" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pretrain.yaml"]  # nothing to block the corrected run
    assert main(["pretrain", str(path)]) == 0
    model = {p.name: p.read_bytes() for p in (tmp_path / "out" / "model").iterdir()}
    assert main(["pretrain", str(path), too_large, "--overwrite"]) == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "model").iterdir()} == model
    assert (tmp_path / "out" / "metrics.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pretrain.yaml"]
