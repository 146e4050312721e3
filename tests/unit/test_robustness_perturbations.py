"""Perturbations: seeded, label-preserving, and for NER one tag per word (added words O, swapped entities keep their
length and tags); the task views say when a prediction is right or changed."""

from __future__ import annotations

import pytest

from finegrain.robustness import lexicon
from finegrain.robustness.perturbations import DEFAULT_SUITE, PERTURBATIONS, keyboard_typo, perturb
from finegrain.tasks.classification.robustness import class_robust_view
from finegrain.tasks.ner.robustness import ner_robust_view
from finegrain.tasks.robustness import Example, Sentence

NER = Example((Sentence.from_tokens(["Ada", "Lovelace", "met", "Bob", "in", "New", "York", "."],
                                    ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "I-LOC", "O"]),), None, 4)
TEXT = Example((Sentence.from_text("John does not like the movie in Paris."),), "neg", 7)


@pytest.fixture(autouse=True)
def small_misspellings(monkeypatch):
    """codespell's list stands in as a few entries: no wheel is read."""
    monkeypatch.setattr(lexicon, "misspellings", lambda: {"movie": ("moive",), "like": ("liek",), "met": ("mett",)})


def test_a_sentence_keeps_its_spacing_and_the_origin_of_each_word():
    sentence = Sentence.from_text("a good film.")
    assert sentence.splice(1, ["very", "good"]).text() == "a very good film."
    assert sentence.splice(1, ["very", "good"]).origins() == (0, 1, None, 2, 3)
    assert sentence.splice(4, ["#x"], drop=0).text() == "a good film. #x"
    assert sentence.splice(3, ["!"], drop=0).text() == "a good film ! ."
    assert sentence.splice(3, []).text() == "a good film"


@pytest.mark.parametrize("name", [n for n in DEFAULT_SUITE if PERTURBATIONS.get(n).tokens])
def test_every_token_level_perturbation_keeps_one_gold_tag_per_word(name):
    changed = perturb(PERTURBATIONS.get(name), NER, seed=0)
    if changed is None:
        return
    sentence = changed.fields[0]
    assert len(sentence.words) == len(sentence.tags) == len(sentence.origins())
    original = NER.fields[0]
    for word, tag, origin in zip(sentence.words, sentence.tags, sentence.origins()):
        assert tag == ("O" if origin is None else original.tags[origin]), (word, tag, origin)


def test_entity_swap_replaces_people_and_places_with_names_of_their_length():
    swapped = perturb(PERTURBATIONS.get("entity-swap"), NER, seed=3).fields[0]
    assert swapped.tags == NER.fields[0].tags and swapped.words[2:5] == ("met", swapped.words[3], "in")
    assert swapped.words[:2] != ("Ada", "Lovelace") and swapped.words[0] in lexicon.FIRST_NAMES
    assert " ".join(swapped.words[5:7]) in lexicon.PLACES
    assert perturb(PERTURBATIONS.get("entity-swap"), TEXT, seed=0) is None  # no tags: not for raw text


def test_perturbations_are_seeded_per_example():
    typos = PERTURBATIONS.get("typos")
    assert perturb(typos, TEXT, seed=1) == perturb(typos, TEXT, seed=1)
    assert {perturb(typos, TEXT, seed=s).fields[0].text() for s in range(6)} != {TEXT.fields[0].text()}


def test_text_perturbations_change_what_they_say():
    def run(name: str, example: Example = TEXT) -> str:
        return perturb(PERTURBATIONS.get(name), example, seed=0).fields[0].text()

    assert run("contractions") == "John doesn't like the movie in Paris."
    assert run("contractions", Example((Sentence.from_text("It isn't bad"),), "pos", 0)) == "It is not bad"
    assert run("punctuation") == "John does not like the movie in Paris"
    assert run("lowercase") == "john does not like the movie in paris."
    assert run("add-url").startswith("John does not like the movie in Paris. https://t.co/")
    assert run("add-handle").startswith("@") and run("add-emoji")[-1] in lexicon.EMOJI
    assert run("swap-person").split()[0] in lexicon.FIRST_NAMES + lexicon.LAST_NAMES
    assert run("swap-place").split()[-1].rstrip(".") not in ("Paris",)
    assert "moive" in run("misspellings") or "liek" in run("misspellings")


def test_a_keyboard_typo_uses_a_neighbouring_key():
    import random

    for seed in range(20):
        typo = keyboard_typo("Good", random.Random(seed))
        [(at, (old, new))] = [(i, pair) for i, pair in enumerate(zip("Good", typo)) if pair[0] != pair[1]]
        assert new.lower() in lexicon.KEYBOARD[old.lower()] and new.isupper() == old.isupper()


def test_a_pair_is_perturbed_in_both_texts():
    pair = Example((Sentence.from_text("a good film"), Sentence.from_text("a fine movie")), "yes", 0)
    changed = perturb(PERTURBATIONS.get("uppercase"), pair, seed=0)
    assert [s.text() for s in changed.fields] == ["A GOOD FILM", "A FINE MOVIE"]
    assert class_robust_view(("text", "text_pair"), False).input(changed) == ("A GOOD FILM", "A FINE MOVIE")


def test_ner_predictions_are_compared_on_the_original_words():
    view = ner_robust_view()
    url = perturb(PERTURBATIONS.get("add-url"), NER, seed=0)
    clean = {"tags": list(NER.fields[0].tags)}
    assert view.correct(clean, NER) and view.protected(NER) == {0, 1, 3, 5, 6}
    assert not view.changed(clean, NER, {"tags": clean["tags"] + ["B-LOC"]}, url)  # only the added word differs
    assert view.changed(clean, NER, {"tags": ["O"] + clean["tags"][1:] + ["O"]}, url)
    assert view.gold(NER, ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]).outputs[:2] == ((0, 1), (1, 3))
