"""Every example config in configs/ validates, and config errors are reported all at once."""

from pathlib import Path

import pytest

from finegrain.config import load_config
from finegrain.errors import ConfigError

CONFIGS = sorted(p for p in (Path(__file__).resolve().parents[2] / "configs").glob("*.yaml")
                 if not p.name.startswith("pretrain-"))  # pretraining configs: test_pretraining.py


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    config = load_config(path)
    assert config.output and config.data.train


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
