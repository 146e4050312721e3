"""Every example config in configs/ validates, and config errors are reported all at once."""

from pathlib import Path

import pytest
import yaml

from finegrain.config import load_config
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
