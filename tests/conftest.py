"""Shared fixtures: a tiny BERT built from a config (no downloads) and small labelled files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The tiny data's words live beside the tasks' tiny datasets (the contract tests train on those); the
# tiny model below has every one of them in its vocabulary.
from finegrain.tasks.classification.tiny import make_sentiment_rows, write_csv  # noqa: E402,F401
from finegrain.tasks.tiny import FILLER, WORDS  # noqa: E402,F401


def make_tiny_model(path: Path) -> Path:
    """Save a 2-layer, 32-hidden BERT and a WordPiece tokenizer over a ~60-word vocab to ``path``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + FILLER + sorted(
        {w for words in WORDS.values() for w in words}
    ) + list("abcdefghijklmnopqrstuvwxyz") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"] + ["!", ".", ","]
    # transformers 5 ignores vocab_file here; the vocabulary must be passed as a dict.
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)
    tokenizer.model_max_length = 64
    tokenizer.save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=0,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def sentiment_files(tmp_path_factory) -> dict[str, Path]:
    """train/validation/test CSVs (text,label) of synthetic 3-class sentiment."""
    root = tmp_path_factory.mktemp("sentiment")
    return {
        "train": write_csv(root / "train.csv", make_sentiment_rows(120, seed=1)),
        "validation": write_csv(root / "validation.csv", make_sentiment_rows(30, seed=2)),
        "test": write_csv(root / "test.csv", make_sentiment_rows(30, seed=3)),
    }


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors gain nothing from threads; on a busy 2-core box they only contend.
    Opt in per module (pytestmark): thread count can change the numerics of other tests."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium (``make test`` installs Debian's ``chromium``).

    Missing on a developer machine: the test is skipped with the fix; missing in CI: a failure,
    so a browser test can never pass silently by not running.
    """
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed: run 'make browser' (Debian: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def chromium_args(binary: str, *extra: str) -> list[str]:
    """The command line for one headless Chromium run (no sandbox: tests run as root in containers)."""
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-dev-shm-usage", "--hide-scrollbars", *extra]
