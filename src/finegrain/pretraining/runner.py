"""A pretraining run from a validated config: corpus -> tokenizer -> sequences -> the one loop.

The output directory is a model folder for ``finegrain train`` (``model.name=OUTPUT``): its
``model/`` holds the encoder with its MLM head (ELECTRA: the discriminator with its detection head,
without the generator) and the tokenizer (Hugging Face format), beside
``config.yaml``, ``run.json``, ``metrics.json``, ``log.jsonl`` and ``checkpoints/last``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from transformers import AutoTokenizer

from finegrain.errors import DataError
from finegrain.evaluation.model_card import PretrainedFacts, pretrained_card
from finegrain.models.base_reference import portable_reference, registered_language
from finegrain.models.catalog import resolve_model
from finegrain.pretraining.config import CorpusConfig, PretrainConfig, dump_pretrain_config
from finegrain.pretraining.corpus import deduplicate, read_documents, read_sources, split_held_out
from finegrain.pretraining.electra import ElectraObjective, ElectraPretrainingModel, new_electra
from finegrain.pretraining.masking import encode_documents
from finegrain.pretraining.model import MaskedLanguageModel, load_masked_lm, new_bert
from finegrain.pretraining.objective import HeldOutMasks, MaskedLMObjective
from finegrain.pretraining.segmenter import character_words
from finegrain.pretraining.tokenizer import train_tokenizer
from finegrain.tasks.modeling import quiet_transformers
from finegrain.training.distributed import save_gathered
from finegrain.training.loop import FitInputs, FitResult, fit
from finegrain.training.precision import autocast_dtype
from finegrain.training.run_dir import RunDir, run_dir_for
from finegrain.training.run_recorder import RunRecorder
from finegrain.training.runner import build_accelerator, library_versions
from finegrain.training.setup import load_tokenizer
from finegrain.training.tracking import tracking

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

__all__ = ["PretrainResult", "run_pretraining", "MIN_TRAIN_SEQUENCES"]

# accelerate warns on every checkpoint that the tied decoder weight is stored once; loading ties
# it to the embeddings again, so the warning only buries the progress bar.
logging.getLogger("accelerate.utils.other").addFilter(lambda record: "Removed shared tensor" not in record.getMessage())

MIN_TRAIN_SEQUENCES = 8  # below this there is nothing to learn from (and one batch would be all of it)


@dataclass
class PretrainResult:
    output: Path
    model_dir: Path
    metrics: dict[str, Any]


def run_pretraining(config: PretrainConfig, *, resume: bool = False, overwrite: bool = False) -> PretrainResult:
    """Pretrain with masked-LM and write the model folder; ``resume`` continues after a kill.

    Example:
        >>> from finegrain.pretraining.config import load_pretrain_config
        >>> cfg = load_pretrain_config("configs/pretrain-zh-small.yaml", ["train.max_steps=20"])  # doctest: +SKIP
        >>> run_pretraining(cfg).metrics["validation"]["perplexity"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    set_seed(config.train.seed)
    train_docs, held_docs = _read_corpus(config.data, config.train.seed)
    _check_enough_text(train_docs, config.model.max_length)
    accelerator = build_accelerator(config.train, run_dir_for(config.output, overwrite=overwrite).path)
    recorder = RunRecorder.open(accelerator, config.output, dump_pretrain_config(config), resume=resume,
                                overwrite=overwrite, started=started)
    with recorder.guard(), tracking(accelerator, recorder.run.path, config.output, config.model_dump(mode="json")):
        metrics = _pretrain_into(recorder, config, train_docs, held_docs, resume=resume)
    return PretrainResult(recorder.run.final, RunDir(recorder.run.final).model, metrics)


def _pretrain_into(recorder: RunRecorder, config: PretrainConfig, train_docs: list[str], held_docs: list[str], *,
                   resume: bool) -> dict[str, Any]:
    """Everything written into the open output folder; returns the metrics."""
    finished = recorder.finished_metrics() if resume else None
    if finished is not None:
        return finished
    run, accelerator = recorder.run, recorder.accelerator
    tokenizer, model_path = _tokenizer(config, run, train_docs, resume=resume)
    segment = character_words if config.masking.segmenter == "jieba" else None
    features = {name: encode_documents(docs, tokenizer, config.model.max_length, pack=config.masking.pack,
                                       segment=segment)
                for name, docs in (("train", train_docs), ("validation", held_docs))}
    _check_enough(features, config.model.max_length)
    set_seed(config.train.seed)
    model = _build_model(config, model_path, tokenizer)
    objective = _objective(config, tokenizer)
    lr = config.train.lr or (5e-4 if config.from_scratch else 1e-4)  # a new model takes larger steps
    info = _run_info(config, accelerator, model, features, model_path, lr)
    info["corpus"] = {"documents": len(train_docs) + len(held_docs),
                      "characters": sum(len(d) for d in train_docs) + sum(len(d) for d in held_docs)}
    pad_id = tokenizer.pad_token_id or 0
    validation = HeldOutMasks(objective, features["validation"])
    info["initial"] = json.loads(run.info.read_text(encoding="utf-8")).get("initial") \
        if resume and run.info.is_file() else _evaluate(validation, model, config, pad_id, accelerator)
    recorder.write_info(info)

    def save_best(trained: torch.nn.Module) -> None:  # every process: gathering sharded weights is a collective
        save_gathered(accelerator, trained, run.model, partial(_save, tokenizer=tokenizer))

    inputs = FitInputs(model, objective, features["train"], config.train, lr, pad_id, validation=validation,
                       save_best=save_best)
    return _finish(recorder, config, info, fit(accelerator, run, inputs, resume=resume))


def _finish(recorder: RunRecorder, config: PretrainConfig, info: dict[str, Any], result: FitResult) -> dict:
    """metrics.json (the kept model's held-out scores, and the scores before training), the model card and run.json."""
    state = result.state
    best = next(record for record in state.history if record["step"] == state.best_step)
    metrics = {"validation": best, "initial": info["initial"]}
    tokens = state.samples_seen * info["data"]["train"]["tokens"] / max(info["data"]["train"]["sequences"], 1)
    info.update(steps=state.global_step, total_steps=result.total_steps, best_step=state.best_step, validation=best)
    recorder.finish(info, metrics, replace(result.costs, tokens=tokens), card=lambda: _card(config, info, metrics))
    return metrics


def _card(config: PretrainConfig, info: dict[str, Any], metrics: dict[str, Any]) -> ModelCard:
    """``model/README.md``: what was pretrained, on what, how well it predicts held-out masked tokens."""
    base = None if config.model.name is None else portable_reference(config.model.name, info["model_path"],
                                                                    Path(config.output))
    facts = PretrainedFacts(
        name=Path(config.output).resolve().name, base_model=base, language=registered_language(base),
        parameters=info["parameters"], corpora=list(config.data.train),
        data={name: (part["sequences"], part["tokens"]) for name, part in info["data"].items()},
        initial=metrics["initial"], final=metrics["validation"],
        scores=_objective_class(config).scores, version=info["versions"].get("finegrain", "unknown"),
        objective=config.objective.name)
    return pretrained_card(facts)


def _read_corpus(data: CorpusConfig, seed: int) -> tuple[list[str], list[str]]:
    documents = read_sources(data.train, data.text)
    if data.deduplicate:
        documents = deduplicate(documents)
    if data.max_documents is not None and len(documents) > data.max_documents:
        keep = sorted(torch.randperm(len(documents), generator=torch.Generator().manual_seed(seed))
                      [: data.max_documents].tolist())
        documents = [documents[i] for i in keep]
    if not documents:
        raise DataError(f"No text found in {', '.join(data.train)}: the corpus is empty.",
                        hint="Give text files with one document per line (or .jsonl with a text field).")
    if data.validation is not None:
        return documents, read_documents(data.validation, data.text)
    return split_held_out(documents, data.validation_fraction, seed)


def _tokenizer(config: PretrainConfig, run: RunDir, documents: list[str], *, resume: bool) -> tuple[Any, str | None]:
    """The checkpoint's tokenizer; or, from scratch, one trained on the corpus (reloaded on resume)."""
    if not config.from_scratch:
        model_path = resolve_model(config.model.name)
        return load_tokenizer(model_path, config.model.max_length), model_path
    saved = run.path / "tokenizer"
    if resume and (saved / "tokenizer.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(saved)
    else:
        tokenizer = train_tokenizer(documents, vocab_size=config.model.vocab_size, lowercase=config.model.lowercase,
                                    max_length=config.model.max_length)
        tokenizer.save_pretrained(saved)
    return tokenizer, None


def _check_enough_text(documents: list[str], max_length: int) -> None:
    """Before training a tokenizer on it: a token is at least one character, so fewer characters
    than the tokens needed can never be enough."""
    characters = sum(len(d) for d in documents)
    if characters < MIN_TRAIN_SEQUENCES * (max_length - 2):
        _too_small(f"{characters} characters", max_length)


def _check_enough(features: dict[str, list], max_length: int) -> None:
    found = len(features["train"])
    if found < MIN_TRAIN_SEQUENCES or not features["validation"]:
        tokens = sum(len(f["input_ids"]) - 2 for f in features["train"])
        _too_small(f"{found} training sequence(s) ({tokens} tokens) and {len(features['validation'])} held out",
                   max_length)


def _too_small(found: str, max_length: int) -> None:
    needed = MIN_TRAIN_SEQUENCES * (max_length - 2)
    raise DataError(f"The corpus is too small: it gives {found}; pretraining needs at least {MIN_TRAIN_SEQUENCES}"
                    f" sequences of model.max_length={max_length} (~{needed} tokens) plus one held out.",
                    hint="Add text: masked-LM pretraining pays off from millions of tokens (a Chinese"
                    " character or an English word piece is one token).")


def _build_model(config: PretrainConfig, model_path: str | None,
                 tokenizer: Any) -> MaskedLanguageModel | ElectraPretrainingModel:
    if model_path is not None:
        return load_masked_lm(model_path)
    shape = config.model
    sizes = dict(vocab_size=len(tokenizer), layers=shape.layers, hidden=shape.hidden, heads=shape.heads,
                 intermediate=shape.intermediate, max_length=shape.max_length, pad_id=tokenizer.pad_token_id)
    if config.objective.name == "electra":
        return new_electra(**sizes, generator_size=config.objective.generator_size)
    return new_bert(**sizes)


def _objective_class(config: PretrainConfig) -> type[MaskedLMObjective]:
    return ElectraObjective if config.objective.name == "electra" else MaskedLMObjective


def _objective(config: PretrainConfig, tokenizer: Any) -> MaskedLMObjective:
    masking = dict(probability=config.masking.probability, whole_word=config.masking.whole_word,
                   mask_id=tokenizer.mask_token_id, vocab_size=len(tokenizer), seed=config.train.seed)
    if config.objective.name == "electra":
        return ElectraObjective(**masking, discriminator_weight=config.objective.discriminator_weight)
    return MaskedLMObjective(**masking)


def _evaluate(validation: HeldOutMasks, model: torch.nn.Module, config: PretrainConfig, pad_id: int,
              accelerator: Accelerator) -> dict[str, Any]:
    """The scores before training, which the model card compares with."""
    return validation.evaluate(model.to(accelerator.device), batch_size=config.train.eval_batch_size, pad_id=pad_id,
                               device=accelerator.device, dtype=autocast_dtype(accelerator.mixed_precision))


def _save(trained: MaskedLanguageModel | ElectraPretrainingModel, state_dict: dict[str, torch.Tensor], folder: Path, *,
          tokenizer: Any) -> None:
    # the Hugging Face model kept is under "model."; ELECTRA's generator, beside it, is left out
    weights = {key.removeprefix("model."): value for key, value in state_dict.items() if key.startswith("model.")}
    with quiet_transformers():
        trained.model.save_pretrained(folder, state_dict=weights)
        tokenizer.save_pretrained(folder)


def _run_info(config: PretrainConfig, accelerator: Accelerator, model: torch.nn.Module, features: dict[str, list],
              model_path: str | None, lr: float) -> dict[str, Any]:
    return {
        "kind": "pretrain", "status": "running",
        "model": config.model.name or "from scratch", "model_path": model_path,
        "parameters": sum(p.numel() for p in model.model.parameters()),  # the model kept (not ELECTRA's generator)
        "objective": config.objective.name, "segmenter": config.masking.segmenter,
        "seed": config.train.seed, "lr": lr, "device": str(accelerator.device),
        "precision": accelerator.mixed_precision, "num_processes": accelerator.num_processes,
        "data": {name: {"sequences": len(items), "tokens": sum(len(f["input_ids"]) for f in items)}
                 for name, items in features.items()},
        "versions": library_versions(),
    }
