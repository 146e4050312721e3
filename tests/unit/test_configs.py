"""Every example config in configs/ validates, and config errors are reported all at once."""

from pathlib import Path

import pytest
import yaml

from finegrain.config import dump_config, load_config
from finegrain.errors import ConfigError
from finegrain.study import load_study_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
STUDIES = [p for p in CONFIGS + sorted((ROOT / "benchmarks").glob("study-*.yaml"))
           if "methods" in yaml.safe_load(p.read_text())]


@pytest.mark.parametrize("path", [p for p in CONFIGS if p not in STUDIES  # pretrain-*: test_pretraining.py
                                  and not p.name.startswith("pretrain-")], ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_config(path)
    assert config.output and config.data.train


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_studies_validate(path):
    study = load_study_config(path)
    assert study.output and len(study.variants()) >= 2


def test_all_problems_are_reported_at_once_with_suggestions():
    with pytest.raises(ConfigError) as error:
        load_config({"data": {"train": "x"}, "output": "o", "method": {"name": "lorra"},
                     "train": {"lrr": 1, "epochs": -1}, "modle": {}})
    text = str(error.value)
    assert "4 problem(s)" in text
    assert "Did you mean 'lr'" in text and "Did you mean 'model'" in text and "Did you mean 'lora'" in text
    assert "train.epochs" in text


def test_dotted_overrides_parse_values_and_reject_malformed_ones():
    config = load_config({"data": {"train": "x"}, "output": "o"}, ["train.lr=1e-4", "method=lora", "method.r=4"])
    assert config.train.lr == 1e-4 and config.method.name == "lora" and config.method.params == {"r": 4}
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config({"data": {"train": "x"}, "output": "o"}, ["train.lr"])


def test_a_folder_given_as_config_is_named_a_folder_with_the_yaml_files_inside(tmp_path):
    (tmp_path / "config.yaml").write_text("data: {train: x.csv}\noutput: o\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    text = str(error.value)
    assert "is a folder" in text and "does not exist" not in text
    assert "a YAML file" in text and str(tmp_path / "config.yaml") in text


def test_retired_speed_up_keys_are_refused_naming_what_replaced_them():
    from finegrain.pretraining.config import load_pretrain_config

    with pytest.raises(ConfigError) as error:
        load_config({"data": {"train": "x"}, "output": "o", "train": {"cpu_dropout": False, "compact_embeddings": True,
                                                                       "lrr": 1}})
    text = str(error.value)
    assert "3 problem(s)" in text and "Did you mean 'lr'" in text
    assert "train.cpu_dropout: retired; train.cpu_speedups (auto or off) replaced train.cpu_allocator" in text
    assert "train.compact_embeddings: retired" in text
    with pytest.raises(ConfigError, match="train.cpu_fused_layers: retired; train.cpu_speedups"):
        load_pretrain_config({"data": {"train": ["x"]}, "output": "o", "train": {"cpu_fused_layers": True}})
    off = load_config({"data": {"train": "x"}, "output": "o"}, ["train.cpu_speedups=off"])  # YAML 1.1: off is false
    assert off.train.cpu_speedups == "off"
    assert load_config(yaml.safe_load(dump_config(off))) == off


@pytest.mark.usefixtures("one_thread")
def test_a_run_saved_with_retired_keys_still_predicts_and_resumes(tiny_model_dir, sentiment_files, tmp_path, caplog):
    import finegrain
    from finegrain.training.run_dir import prepare_run_dir

    config = {"model": {"name": str(tiny_model_dir), "max_length": 32},
              "data": {"train": str(sentiment_files["train"])}, "train": {"max_steps": 2, "batch_size": 8},
              "output": str(tmp_path / "run")}
    run = finegrain.train(config).run_dir
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["train"].update(cpu_allocator="keep", compact_embeddings=True, cpu_dropout=True, cpu_fused_layers=True)
    (run / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")  # as an older finegrain wrote it
    assert finegrain.load(run).predict(["good"])[0]["label"] in ("neg", "neu", "pos")
    assert "retired (train.cpu_speedups replaced them); ignored" in caplog.text
    assert "train.cpu_fused_layers" in caplog.text
    prepare_run_dir(run, dump_config(load_config(config)), resume=True, overwrite=False)  # the same run: resumable
