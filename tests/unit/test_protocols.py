"""The declared seams: registries refuse what does not satisfy their protocol, protocols give their
optional members defaults, and loading a run to predict leaves the training loop unimported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from finegrain.config import Section
from finegrain.errors import ConfigError, ModelError, RegistrationError
from finegrain.methods.base import FittedMethod, TrainedMethod, is_fitted
from finegrain.registry import METHODS, TASKS, missing_members
from finegrain.tasks.base import Task
from serving_runs import train_tiny


class _Params(Section):
    """No parameters."""


class _Plain(TrainedMethod):
    """A method that inherits the protocol: only the required members are its own."""

    name: ClassVar[str] = "plain-test"
    Params: ClassVar[type[_Params]] = _Params
    mergeable: ClassVar[bool] = True
    default_lr: ClassVar[float] = 1e-3
    tasks: ClassVar[tuple[str, ...]] = ("classification",)

    def __init__(self, params: _Params | None = None):
        self.params = params or _Params()

    def apply(self, model: torch.nn.Module, head_names: list[str]) -> torch.nn.Module:
        return model

    def save(self, model: torch.nn.Module, directory: Path, *, state_dict: dict | None = None) -> None:
        model.save_pretrained(directory, state_dict=state_dict)

    def load(self, directory: Path, build_base) -> torch.nn.Module:
        return build_base(str(directory))


def test_a_method_satisfying_neither_protocol_is_refused_naming_what_it_lacks():
    class Loose:  # structural, without the optional hooks and without apply/fit
        name, Params, mergeable, default_lr = "loose", _Params, False, 1e-3

        def save(self, model, directory, *, state_dict=None): ...

        def load(self, directory, build_base): ...

    with pytest.raises(RegistrationError) as error:
        METHODS.register("loose-test", Loose)
    message = str(error.value)
    assert "Cannot register method 'loose-test'" in message and "satisfies neither TrainedMethod" in message
    trained = message.split("TrainedMethod (missing: ")[1].split(")")[0].split(", ")
    assert {"apply", "set_total_steps", "on_step", "merge", "check_task"} <= set(trained)
    assert "save" not in trained and "name" not in trained
    assert "FittedMethod (missing: " in message and "fit" in message.split("FittedMethod (missing: ")[1]
    assert "loose-test" not in METHODS


def test_a_required_member_inherited_unimplemented_from_the_protocol_is_missing():
    class NoLoad(TrainedMethod):  # the protocol's own ``load`` is only its declaration
        name, Params, mergeable, default_lr = "no-load", _Params, True, 1e-3

        def apply(self, model, head_names):
            return model

        def save(self, model, directory, *, state_dict=None): ...

    assert missing_members(NoLoad, TrainedMethod) == ["load"]
    with pytest.raises(RegistrationError) as error:  # docs/extending.md quotes this message
        METHODS.register("no-load-test", NoLoad)
    assert ("Cannot register method 'no-load-test': test_a_required_member_inherited_unimplemented_from_the_protocol_"
            "is_missing.<locals>.NoLoad satisfies neither TrainedMethod (missing: load) nor FittedMethod (missing:"
            " encoder, fit, log_probs, load).") in str(error.value)


def test_each_methods_tiny_params_are_valid_parameters():
    """What the contract tests train each method with (an unknown or misspelt key fails here, not there)."""
    for name, method in METHODS.items():
        params = method.Params(**method.tiny_params)  # a Section: unknown keys are refused
        assert params.model_dump().items() >= dict(method.tiny_params).items(), name


def test_a_task_missing_a_member_is_refused():
    class NoDecode(TASKS.get("classification")):
        decode = Task.decode  # the protocol's declaration in place of the task's own

    with pytest.raises(RegistrationError, match=r"'no-decode-test': .*NoDecode does not satisfy Task \(missing: decode\)"):
        TASKS.register("no-decode-test", NoDecode)
    assert "no-decode-test" not in TASKS


def test_the_registry_records_which_protocol_each_method_satisfies():
    kinds = {name: METHODS.protocol(name) for name in METHODS.names()}
    assert {name for name, kind in kinds.items() if kind is FittedMethod} == {
        "tfidf", "embeddings-lr", "setfit", "tfidf-pair", "bi-encoder", "char-ngram", "identity", "symspell",
        "pyspellchecker", "symspell-context", "lm-fusion"}
    assert set(kinds.values()) == {TrainedMethod, FittedMethod}
    assert METHODS.protocol("tf-idf") is FittedMethod  # aliases too
    assert all(TASKS.protocol(name) is Task for name in TASKS.names())
    assert is_fitted(METHODS.get("tfidf")()) and not is_fitted(METHODS.get("lora")())


def test_inherited_defaults_of_the_optional_hooks():
    method = _Plain()
    method.set_total_steps(10)  # no-ops for a method that needs no schedule
    method.on_step(torch.nn.Linear(1, 1), 1)
    method.check_against(8)
    assert method.task_lr == {} and method.task_params == {}
    model = torch.nn.Linear(1, 1)
    assert method.merge(model) is model  # mergeable and plain already
    method.check_task(TASKS.get("classification")())
    with pytest.raises(ConfigError, match="does not support the 'ner' task") as error:
        method.check_task(TASKS.get("ner")())
    assert "lora" in error.value.hint and "tfidf" not in error.value.hint  # the methods that support NER


def test_a_method_that_cannot_merge_is_refused_by_default():
    class Unmergeable(_Plain):
        mergeable: ClassVar[bool] = False

    with pytest.raises(ModelError, match="cannot be merged"):
        Unmergeable().merge(torch.nn.Linear(1, 1))


_PREDICT = """
import json, sys
import finegrain
answers = [finegrain.load(run, "cpu").predict(["good great movie"])[0]["label"] for run in sys.argv[1:]]
training = sorted(m for m in sys.modules if m.startswith("finegrain.training."))
print(json.dumps({"answers": answers, "training": training}))
"""


def test_loading_and_predicting_does_not_import_the_training_loop(tmp_path_factory, tiny_model_dir, sentiment_files):
    runs = [train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, method=method) for method in ("full", "tfidf")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path("src").resolve()),
                                                                    os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", _PREDICT, *map(str, runs)], capture_output=True, text=True,
                          env=env, timeout=300, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["answers"]) == 2 and all(answer in ("neg", "neu", "pos") for answer in result["answers"])
    imported = set(result["training"])
    assert "finegrain.training.predictor" in imported  # it did load through the predictor
    assert not imported & {"finegrain.training.loop", "finegrain.training.runner",
                           "finegrain.training.estimator_runner", "finegrain.training.validation"}


def test_the_service_reports_the_runtime_its_logits_source_names(tmp_path_factory, tiny_model_dir, sentiment_files):
    from fastapi.testclient import TestClient

    from finegrain.serving.app import create_app
    from finegrain.training.predictor import load_predictor

    for method, runtime in (("full", "pytorch"), ("tfidf", "estimator (tfidf)")):
        predictor = load_predictor(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, method=method), "cpu")
        assert predictor.runtime == runtime
        with TestClient(create_app(predictor)) as client:
            assert client.get("/v1/info").json()["backend"] == runtime
