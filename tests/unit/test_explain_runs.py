"""``finegrain explain`` on tiny trained runs: integrated gradients adds up to the change in probability, NER
explains each entity, long texts are read in windows, attention rollout reads every layer, fitted methods use
occlusion, and the command writes jsonl + html and refuses bad input with exit 2."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch
from serving_runs import train_tiny

import finegrain
from finegrain.cli.main import main
from finegrain.errors import ConfigError, DataError, ModelError
from finegrain.tasks.classification.first_token import every_position, is_first_token_only

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tiny_model_dir, sentiment_files):
    return finegrain.load(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files), device="cpu")


@pytest.fixture(scope="module")
def tagger(tmp_path_factory, tiny_model_dir, sentiment_files):
    return finegrain.load(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind="ner"), device="cpu")


def _probability(predictor, ids: list[int], label: int) -> float:
    with torch.no_grad():
        logits = predictor.source.model(input_ids=torch.tensor([ids])).logits
    return torch.softmax(logits, -1)[0, label].item()


def test_integrated_gradients_add_up_to_the_change_in_probability(classifier):
    [explained] = classifier.explain(["good good table bad"], method="integrated-gradients", steps=64)
    [target] = explained.targets
    assert explained.words == ["good", "good", "table", "bad"] and len(target.scores) == 4
    ids = classifier.source.encoding.tokenizer("good good table bad")["input_ids"]
    baseline = [ids[0]] + [0] * (len(ids) - 2) + [ids[-1]]  # words padded, [CLS] and [SEP] kept
    label = classifier.labels.id(target.target)
    change = _probability(classifier, ids, label) - _probability(classifier, baseline, label)
    assert sum(target.scores) == pytest.approx(change + target.delta, abs=1e-4)
    assert abs(target.delta) < 0.05 * abs(change) + 1e-4


def test_batched_explanations_of_mixed_lengths_equal_one_at_a_time_and_leave_the_weights_as_they_were(classifier):
    """Rows are sorted by length and batched by a token budget: each text's scores must still be its own, and
    the parameters' requires_grad (switched off while explaining) comes back with no gradient left on them."""
    import finegrain.explain.gradients as gradients

    texts = ["good", "bad table good good bad table bad good", "table bad", "good good table bad table"]
    trainable = [name for name, p in classifier.source.model.named_parameters() if p.requires_grad]
    batched = classifier.explain(texts, steps=8)
    budget = gradients.IG_TOKENS_PER_BATCH
    try:
        gradients.IG_TOKENS_PER_BATCH = 1  # one row per forward
        alone = classifier.explain(texts, steps=8)
    finally:
        gradients.IG_TOKENS_PER_BATCH = budget
    for together, single in zip(batched, alone):
        assert together.targets[0].scores == pytest.approx(single.targets[0].scores, abs=1e-5)
    assert [name for name, p in classifier.source.model.named_parameters() if p.requires_grad] == trainable
    assert all(p.grad is None for p in classifier.source.model.parameters())


def test_gradient_x_input_and_rollout_and_a_chosen_target(classifier):
    [gxi] = classifier.explain(["good table"], method="gradient-x-input", target="neg")
    assert gxi.targets[0].target == "neg" and gxi.targets[0].delta is None
    assert is_first_token_only(classifier.source.model)
    model = classifier.source.model
    model.set_attn_implementation("eager")
    try:
        ids = torch.tensor([classifier.source.encoding.tokenizer("good table")["input_ids"]])
        with every_position(model):  # the last layer computes (and returns) every attention row
            assert not is_first_token_only(model)
            assert len(model(input_ids=ids, output_attentions=True).attentions) == model.config.num_hidden_layers
    finally:
        model.set_attn_implementation("sdpa")
    assert is_first_token_only(model)
    [rollout] = classifier.explain(["good table"], method="attention-rollout")
    assert all(score > 0 for score in rollout.targets[0].scores)  # attention rolled out through both layers


def test_a_long_text_is_explained_in_windows(classifier):
    text = " ".join(["good table bad chair"] * 12)  # 48 words, the run reads 32 tokens
    [explained] = classifier.explain([text], method="gradient-x-input")
    assert explained.windows >= 2 and "windows" in explained.notes[0]
    assert len(explained.targets[0].scores) == 48 and explained.targets[0].scores[-1] != 0


def test_ner_explains_each_predicted_entity_over_its_span(tagger):
    texts = ["good movie and bad film with great cast"]
    [prediction] = tagger.predict(texts)
    [explained] = tagger.explain(texts, method="integrated-gradients")
    entities = [(e["start"], e["end"]) for e in prediction["entities"]]
    assert entities, "the tiny NER run tags sentiment words"
    spans = [(explained.offsets[t.span[0]][0], explained.offsets[t.span[1] - 1][1]) for t in explained.targets]
    assert spans == entities and all(len(t.scores) == len(explained.words) for t in explained.targets)
    kind = explained.targets[0].target
    [only] = tagger.explain(texts, method="occlusion", target=kind)
    assert {t.target for t in only.targets} == {kind}


def test_a_long_sentence_explains_every_entity_across_windows(tagger):
    text = " ".join(["good movie and bad film with great cast"] * 6)  # 48 words, windows of 32 sub-tokens
    entities = tagger.predict([text])[0]["entities"]
    for method in ("attention-rollout", "integrated-gradients"):  # more rows than one batch, of several widths
        [explained] = tagger.explain([text], method=method)
        assert explained.windows >= 2 and len(explained.targets) == len(entities) > 8
        assert all(any(score != 0 for score in t.scores) for t in explained.targets)


def test_bad_targets_and_explainers_say_what_works(classifier, tmp_path_factory, tiny_model_dir, sentiment_files):
    with pytest.raises(ConfigError, match="Its labels: neg, neu, pos"):
        classifier.explain(["good"], target="happy")
    with pytest.raises(DataError, match="empty"):
        classifier.explain(["   "])
    fitted = finegrain.load(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, method="tfidf"))
    with pytest.raises(ModelError, match="explainers this run can use: occlusion"):
        fitted.explain(["good"], method="integrated-gradients")
    [explained] = fitted.explain(["good good table"], method="occlusion")
    assert explained.targets[0].scores[0] == explained.targets[0].scores[1] != 0  # the same word twice, same effect


def _main(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def test_cli_writes_jsonl_html_and_faithfulness(classifier, tmp_path):
    run, out = classifier.run.path, tmp_path / "explained"
    code, printed, _ = _main("explain", run, "--text", "good good day", "--text", "bad chair", "--out", out)
    assert code == 0 and "comprehensiveness" in printed and "random" in printed
    lines = [json.loads(line) for line in (out / "explanations.jsonl").read_text().splitlines()]
    assert [line["text"] for line in lines] == ["good good day", "bad chair"]
    assert lines[0]["words"] == ["good", "good", "day"] and lines[0]["offsets"] == [[0, 4], [5, 9], [10, 13]]
    assert lines[0]["explainer"] == "integrated-gradients" and lines[0]["seconds"] > 0
    table = json.loads((out / "faithfulness.json").read_text())
    assert set(table["rows"]) == {"integrated-gradients", "random"} and table["n"] == 2
    page = (out / "explanations.html").read_text()
    assert page.count("<span title=") == 5 and "Faithfulness" in page
    assert page.count("· comprehensiveness ") == 2  # each explanation's own numbers beside its words
    assert 'Most faithful: <a href="#input-' in page and 'id=input-1' in page
    assert len(table["examples"]["most"]) == 2


@pytest.mark.parametrize("args, message", [
    (("--text", " "), "--text number 1 is empty"),
    (("--text", "good", "--target", "happy"), "Its labels: neg, neu, pos"),
    (("--data", "validation", "--limit", "31"), "--limit 31 is more than the 30 inputs"),
    (("--data", "test"), "it has: validation"),
    (("--text", "good", "--method", "integrated-gradient"), "Did you mean 'integrated-gradients'"),
])
def test_cli_bad_input_exits_2_without_a_traceback(classifier, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = _main("explain", classifier.run.path, *args, "--out", tmp_path / "out")
    assert code == 2 and message in err and "Traceback" not in err


def test_rest_explain_answers_in_the_task_schema(classifier, tmp_path_factory, tiny_model_dir, sentiment_files):
    from fastapi.testclient import TestClient

    from finegrain.serving.app import create_app

    with TestClient(create_app(classifier)) as client:
        assert client.get("/v1/info").json()["explainers"][0] == "integrated-gradients"
        answer = client.post("/v1/explain", json={"texts": ["good good day"], "method": "occlusion"})
        assert answer.status_code == 200 and answer.json()["task"] == "classification"
        [explained] = answer.json()["explanations"]
        assert explained["words"] == ["good", "good", "day"] and explained["explainer"] == "occlusion"
        assert set(explained["targets"][0]) == {"target", "name", "scores", "span", "delta"}
        refused = client.post("/v1/explain", json={"texts": ["good"], "target": "happy"})
        assert refused.status_code == 422 and refused.json()["error"].startswith("target: target 'happy'")
        assert client.post("/v1/explain", json={"texts": [" "]}).status_code == 422
        assert client.post("/v1/explain", json={"texts": ["good"], "steps": 3}).status_code == 422  # not a field
        assert "/v1/explain" in client.get("/openapi.json").json()["paths"]
    pairs = finegrain.load(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind="pair"), device="cpu")
    with TestClient(create_app(pairs)) as client:
        answer = client.post("/v1/explain", json={"pairs": [["good movie", "bad day"]]})
        [explained] = answer.json()["explanations"]
        assert explained["fields"] == ["text", "text", "text_pair", "text_pair"]
        assert explained["offsets"] == [[0, 4], [5, 10], [0, 3], [4, 7]]


def test_cli_reads_an_input_file_of_the_task(tagger, tmp_path):
    source = tmp_path / "sentences.conll"
    source.write_text("good O\nmovie O\n\nbad O\nfilm O\n", encoding="utf-8")
    code, _, _ = _main("explain", tagger.run.path, "--input", source, "--method", "occlusion", "--no-faithfulness",
                       "--out", tmp_path / "out")
    lines = [json.loads(line) for line in (tmp_path / "out" / "explanations.jsonl").read_text().splitlines()]
    assert code == 0 and [line["tokens"] for line in lines] == [["good", "movie"], ["bad", "film"]]
    assert lines[0]["fields"] == ["tokens", "tokens"] and lines[0]["offsets"] == [None, None]
    assert not (tmp_path / "out" / "faithfulness.json").exists()


def test_explaining_into_the_run_adds_a_section_to_its_report_that_a_rebuild_keeps(classifier, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(classifier.run.path, run)
    texts = ["good good day", "bad table", "good table bad", "bad bad good"]
    code, out, _ = _main("explain", run, *sum((["--text", t] for t in texts), []), "--method", "occlusion")
    report = (run / "report.md").read_text(encoding="utf-8")
    assert code == 0 and "section Explanations" in out
    section = report[report.index("## Explanations"):]
    assert "| occlusion |" in section and "| random |" in section
    assert "**Most faithful**" in section and "**Least faithful**" in section and "**good**" in section
    assert report.index("## Summary") < report.index("## Explanations")  # after the task's own sections
    assert _main("report", run)[0] == 0
    rebuilt = (run / "report.md").read_text(encoding="utf-8")
    assert rebuilt.count("## Explanations") == 1 and rebuilt[rebuilt.index("## Explanations"):] == section
    _main("explain", run, "--text", "good", "--out", tmp_path / "elsewhere", "--method", "occlusion")
    assert (run / "report.md").read_text(encoding="utf-8") == rebuilt  # explanations kept elsewhere: untouched
