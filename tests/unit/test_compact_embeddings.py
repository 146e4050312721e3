"""Compact embeddings: training only the used rows gives the weights dense AdamW gives, and saves them whole."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

import finegrain
from finegrain.training.optim import build_optimizer, build_schedule
from finegrain.training.speedups import disabled
from finegrain.training.speedups.compact_embeddings import CompactEmbedding, compact_embeddings

VOCAB = 200


def _model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(config)


def _batches(steps: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(steps):
        ids = torch.randint(5, 60, (4, 7), generator=generator)  # rows 60..199 are never used
        ids[1, 5:] = 0  # padding
        mask = (ids != 0).long()
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 3, (4,), generator=generator)})
    return batches


def _train(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]]) -> None:
    optimizer = build_optimizer(model, lr=5e-2, weight_decay=0.1)  # a large decay: its product must be exact
    schedule = build_schedule(optimizer, warmup=0.2, total_steps=len(batches))
    for batch in batches:
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)


def test_compact_training_gives_the_dense_weights():
    batches = _batches(12)
    dense, compacted = _model(), _model()
    features = [{"input_ids": row.tolist()} for batch in batches for row in batch["input_ids"]]
    compact = compact_embeddings(compacted, [features, None])
    assert compact is not None and isinstance(compacted.get_input_embeddings(), CompactEmbedding)
    assert len(compact.compact.weight) < 60  # the used rows (and padding) only
    compact.track()  # the decay of every step of the optimizer that holds the compact rows
    _train(dense, batches)  # another optimizer's steps do not count
    _train(compacted, batches)
    compact.restore()
    assert type(compacted.get_input_embeddings()) is torch.nn.Embedding
    trained = dict(compacted.named_parameters())
    for name, parameter in dense.named_parameters():
        torch.testing.assert_close(trained[name], parameter, atol=2e-6, rtol=1e-5, msg=name)
    embedding = dense.get_input_embeddings().weight
    assert not torch.allclose(embedding[100], _model().get_input_embeddings().weight[100])  # unused rows decayed


def test_unseen_ids_read_the_decayed_full_matrix_and_saving_is_whole():
    model = _model()
    original = model.get_input_embeddings().weight.detach().clone()
    compact = compact_embeddings(model, [[{"input_ids": [1, 2, 3]}]])
    compact.compact.step_taken(lr=0.5, weight_decay=0.2)  # rows not kept: x 0.9
    ids = torch.tensor([[2, 150]])
    out = model.get_input_embeddings()(ids)
    torch.testing.assert_close(out[0, 0], original[2])
    torch.testing.assert_close(out[0, 1], original[150] * 0.9)
    with compact.expanded() as expanded:
        state = expanded.state_dict()
        assert state["bert.embeddings.word_embeddings.weight"].shape == (VOCAB, 32)
        torch.testing.assert_close(state["bert.embeddings.word_embeddings.weight"][150], original[150] * 0.9)
    assert isinstance(model.get_input_embeddings(), CompactEmbedding)  # compact again after saving


def test_not_applied_to_frozen_or_tied_embeddings():
    frozen = _model()
    frozen.get_input_embeddings().weight.requires_grad_(False)
    assert compact_embeddings(frozen, [[{"input_ids": [1, 2]}]]) is None
    torch.manual_seed(0)
    tied = BertForMaskedLM(BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                      intermediate_size=64))
    assert compact_embeddings(tied, [[{"input_ids": [1, 2]}]]) is None
    assert compact_embeddings(_model(), [[{"input_ids": list(range(VOCAB))}]]) is None  # nothing to save


def test_after_restore_no_step_counts_any_more():
    model = _model()
    compact = compact_embeddings(model, [[{"input_ids": [1, 2, 3]}]])
    compact.track()
    embedding = model.get_input_embeddings()
    compact.restore()
    optimizer = torch.optim.AdamW([embedding.weight], lr=0.5, weight_decay=0.2)
    embedding.weight.grad = torch.zeros_like(embedding.weight)
    optimizer.step()
    assert embedding.decay.item() == 1.0


@pytest.mark.usefixtures("one_thread")
def test_a_run_with_compact_embeddings_saves_what_a_dense_run_saves(tiny_model_dir, sentiment_files, tmp_path):
    def run(compact: bool):
        config = {"model": {"name": str(tiny_model_dir), "max_length": 32},
                  "data": {"train": str(sentiment_files["train"]), "test": str(sentiment_files["test"])},
                  "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "seed": 0, "precision": "fp32"},
                  "output": str(tmp_path / f"run-{compact}")}
        with disabled(*(() if compact else ("compact_embeddings",))):  # the other speed-ups stay: the same masks
            result = finegrain.train(config)
        weights = load_file(str(result.run_dir / "model" / "model.safetensors"))
        state = json.loads((result.run_dir / "checkpoints" / "last" / "trainer_state.json").read_text())
        return result.metrics, weights, state

    dense_metrics, dense, dense_state = run(False)
    compact_metrics, compacted, compact_state = run(True)
    assert compact_state["compact_embeddings"] and not dense_state["compact_embeddings"]
    assert dense.keys() == compacted.keys()
    for name, tensor in dense.items():
        torch.testing.assert_close(compacted[name], tensor, atol=1e-5, rtol=1e-4, msg=name)
    assert compact_metrics["test"]["accuracy"] == dense_metrics["test"]["accuracy"]


@pytest.mark.usefixtures("one_thread")
def test_rows_no_text_uses_decay_as_dense_adamw_decays_them_through_the_loop(tiny_model_dir, sentiment_files,
                                                                          tmp_path):
    """accelerate's prepare gives the optimizer new param-group dicts: the decay must follow the live ones
    (it once read a group captured before prepare, whose lr stayed at warmup's 0: those rows never decayed)."""
    from transformers import AutoTokenizer

    def embedding(compact: bool) -> torch.Tensor:
        config = {"model": {"name": str(tiny_model_dir), "max_length": 32},
                  "data": {"train": str(sentiment_files["train"])},
                  "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "weight_decay": 0.5, "seed": 0,
                            "precision": "fp32"},
                  "output": str(tmp_path / f"run-{compact}")}
        with disabled(*(() if compact else ("compact_embeddings",))):
            run = finegrain.train(config).run_dir
        return load_file(str(run / "model" / "model.safetensors"))["bert.embeddings.word_embeddings.weight"]

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = [line.rsplit(",", 1)[0] for line in sentiment_files["train"].read_text().splitlines()[1:]]
    used = {i for ids in tokenizer(texts)["input_ids"] for i in ids} | set(tokenizer.all_special_ids)
    unused = sorted(set(range(len(tokenizer))) - used)
    assert unused
    dense, compacted = embedding(False), embedding(True)
    initial = load_file(str(tiny_model_dir / "model.safetensors"))["embeddings.word_embeddings.weight"]
    assert not torch.allclose(dense[unused], initial[unused], rtol=1e-4, atol=0)  # the decay is visible
    torch.testing.assert_close(compacted[unused], dense[unused], rtol=1e-6, atol=1e-9)
