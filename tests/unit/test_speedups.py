"""The speed-ups' seam: ``auto`` applies each on CPU and undoes it, ``off`` leaves the model as built."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator
from torch import nn
from transformers import BertConfig, BertForSequenceClassification

import finegrain
from finegrain.training.checkpoint import TrainerState
from finegrain.training.speedups import SPEEDUPS, apply_speedups, disabled
from finegrain.training.speedups.compact_embeddings import CompactEmbedding
from finegrain.training.speedups.cpu_dropout import ATTENTION, CpuDropout

VOCAB = 200


def _model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=3, attn_implementation="sdpa")
    return BertForSequenceClassification(config).train()


def _batch() -> dict[str, torch.Tensor]:
    ids = torch.randint(5, 60, (3, 9), generator=torch.Generator().manual_seed(2))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


FEATURES = [[{"input_ids": list(range(60))}], None]
CPU = Accelerator(cpu=True)


def _stock(model: nn.Module) -> dict[str, object]:
    """What the speed-ups change, as the stock model has it."""
    return {"modules": [type(m) for m in model.modules()], "attention": model.config._attn_implementation,
            "forwards": ["forward" in m.__dict__ for m in model.modules()],
            "hooks": sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules()),
            "state": sorted(model.state_dict())}


def test_auto_applies_each_speedup_on_cpu_and_gives_the_stock_model_back():
    model = _model()
    stock = _stock(model)
    with apply_speedups(model, "auto", accelerator=CPU, features=FEATURES) as speedups:
        assert {"compact_embeddings", "cpu_dropout"} <= set(speedups.names)
        assert isinstance(model.get_input_embeddings(), CompactEmbedding)
        assert any(isinstance(m, CpuDropout) for m in model.modules())
        assert model.config._attn_implementation == ATTENTION
        model(**_batch()).logits.sum().backward()
    assert _stock(model) == stock


def test_off_leaves_the_model_as_built():
    model = _model()
    stock = _stock(model)
    with apply_speedups(model, "off", accelerator=CPU, features=FEATURES) as speedups:
        assert speedups.names == []
        assert _stock(model) == stock


def test_a_training_forward_pass_draws_all_its_masks_from_one_seeding():
    """One draw from torch's generator per pass: the masks follow the seed, and a resume draws them again."""
    model = _model()
    with apply_speedups(model, "auto", accelerator=CPU, features=FEATURES):
        torch.manual_seed(5)
        first = model(**_batch()).logits
        after_pass = torch.randint(0, 2**62, (1,)).item()
        torch.manual_seed(5)
        again = model(**_batch()).logits
    torch.manual_seed(5)
    torch.randint(0, 2**62, (1,))  # the stream's one seed
    assert after_pass == torch.randint(0, 2**62, (1,)).item()
    assert torch.equal(first, again)


@pytest.mark.parametrize(("setting", "checkpoint_compact"), [("off", True), ("auto", False)])
def test_a_resumed_run_takes_the_embedding_form_its_checkpoint_holds(setting, checkpoint_compact):
    model = _model()
    resumed = TrainerState(global_step=3, compact_embeddings=checkpoint_compact)
    with apply_speedups(model, setting, accelerator=CPU, features=FEATURES, resumed=resumed) as speedups:
        assert isinstance(model.get_input_embeddings(), CompactEmbedding) == checkpoint_compact
        state = TrainerState()
        speedups.record(state)
        assert state.compact_embeddings == checkpoint_compact


def test_saving_sees_the_full_embedding_and_training_the_compact_one_again():
    model = _model()
    with apply_speedups(model, "auto", accelerator=CPU, features=FEATURES) as speedups:
        seen = []
        speedups.saving(lambda saved: seen.append(type(saved.get_input_embeddings())))(model)
        assert seen == [nn.Embedding]
        assert isinstance(model.get_input_embeddings(), CompactEmbedding)


def test_disabled_leaves_one_out_and_names_the_choices_for_an_unknown_one():
    model = _model()
    with disabled("compact_embeddings"), apply_speedups(model, "auto", accelerator=CPU, features=FEATURES) as speedups:
        assert "compact_embeddings" not in speedups.names and "cpu_dropout" in speedups.names
    assert [s.name for s in SPEEDUPS] == ["compact_embeddings", "cpu_dropout"]
    with pytest.raises(ValueError, match="Unknown speed-up.*compact_vocab.*Available: compact_embeddings, cpu_dropout"):
        with disabled("compact_vocab"):
            pass


@pytest.mark.usefixtures("one_thread")
def test_a_failed_run_leaves_the_model_its_own_modules(tiny_model_dir, sentiment_files, tmp_path, monkeypatch):
    import finegrain.training.loop as loop

    seen = {}

    def failing_step(session, batch):
        seen["model"] = session.accelerator.unwrap_model(session.model)
        assert isinstance(seen["model"].get_input_embeddings(), CompactEmbedding)  # swapped in while training
        raise RuntimeError("stopped mid-training")

    monkeypatch.setattr(loop, "_train_step", failing_step)
    config = {"model": {"name": str(tiny_model_dir), "max_length": 32},
              "data": {"train": str(sentiment_files["train"]), "test": str(sentiment_files["test"])},
              "train": {"epochs": 1, "batch_size": 8, "seed": 0}, "output": str(tmp_path / "run")}
    with pytest.raises(RuntimeError, match="stopped mid-training"):
        finegrain.train(config)
    model = seen["model"]
    assert type(model.get_input_embeddings()) is torch.nn.Embedding
    assert not any(isinstance(m, CpuDropout) for m in model.modules())
    assert model.config._attn_implementation == "sdpa"
