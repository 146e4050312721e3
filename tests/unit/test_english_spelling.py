"""English spelling data (real misspelling lists, en-spelling-synth) and the dictionary baselines."""

from __future__ import annotations

import random

import pytest

from finegrain.data.english_spelling_sets import EnglishMix, inject_english_errors, keyboard_typo
from finegrain.data.misspellings import merge_lists, misspellings_available, parse_codespell, parse_nlpaug
from finegrain.tasks.spelling.words import words

SENTENCES = ["I believe the Government will receive the report.", "They definitely went to the ancient city.",
             "Prices rose by 3.5% in March, the bank said.", "A quiet week for markets and traders alike."] * 25
TABLE = {"believe": ["beleive"], "receive": ["recieve"], "definitely": ["definately"], "government": ["goverment"],
         "ancient": ["acient"], "markets": ["markest"], "traders": ["tradres"], "city": ["citty"]}
HELD_OUT = frozenset({"believe", "ancient"})


def _changed(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(misspelling, correct word) of every changed word."""
    return [(a, b) for source, target in pairs for a, b in zip(words(source), words(target)) if a != b]


def test_codespell_lines_with_several_corrections_or_a_reason_are_skipped():
    text = "aache->cache, ache,\nbeleive->believe\nclas->class, disabled because of name clash in c++\n2nd->2st\n"
    assert parse_codespell(text) == {"believe": ["beleive"], "2st": ["2nd"]}
    assert merge_lists(parse_codespell(text)) == {"believe": ["beleive"]}  # letters only


def test_nlpaug_lines_merge_lower_cased_without_real_words_or_shared_misspellings():
    nlpaug = parse_nlpaug("luck lock lucke Luck\nlock lcok\nsons sones son's\nsuns sones\n")
    assert merge_lists(nlpaug, {"Luck": ["LUKE", "lucke"]}) == {"luck": ["lucke", "luke"], "lock": ["lcok"]}


def test_injected_pairs_keep_the_word_count_and_the_case():
    pairs = inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=3)
    assert [target for _, target in pairs] == SENTENCES
    assert all(len(words(source)) == len(words(target)) for source, target in pairs)
    assert 0.35 < sum(source != target for source, target in pairs) / len(pairs) < 0.65  # about half corrupted
    changed = _changed(pairs)
    assert ("Goverment", "Government") in changed or any(b == "Government" and a[0].isupper() for a, b in changed)
    assert all(a[:1].isupper() == b[:1].isupper() for a, b in changed)


def test_training_pairs_never_misspell_held_out_words_and_test_pairs_only_those_with_real_misspellings():
    train = _changed(inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=3))
    assert train and not {b.lower() for _, b in train} & HELD_OUT
    assert any(a.lower() not in TABLE.get(b.lower(), []) for a, b in train)  # some keyboard noise
    test = _changed(inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=3, test=True))
    assert test and all(b.lower() in HELD_OUT and a.lower() in TABLE[b.lower()] for a, b in test)


def test_injection_is_reproducible_and_follows_the_seed():
    first = inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=7)
    assert first == inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=7)
    assert first != inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=8)


def test_keyboard_noise_changes_one_word_into_one_word():
    rng = random.Random(0)
    typos = [keyboard_typo("receive", rng) for _ in range(200)]
    assert all(t.isalpha() and abs(len(t) - len("receive")) <= 1 for t in typos)
    assert len(set(typos)) > 20


def test_a_clean_mix_leaves_every_sentence_alone():
    pairs = inject_english_errors(SENTENCES, TABLE, HELD_OUT, seed=1, mix=EnglishMix(corrupted=0.0))
    assert all(source == target for source, target in pairs)


@pytest.mark.skipif(not misspellings_available(), reason="nlpaug/codespell wheels neither installed nor cached")
def test_the_builtin_splits_share_no_sentence_and_test_misspells_only_unseen_words():
    from finegrain.registry import DATASETS

    splits = DATASETS.get("en-spelling-synth").load()
    assert {name: len(frame) for name, frame in splits.items()} == {"train": 26663, "validation": 1000, "test": 2000}
    for frame in splits.values():
        assert all(len(words(s)) == len(words(t)) for s, t in zip(frame["source"], frame["target"]))
    assert not set(splits["test"]["target"]) & (set(splits["train"]["target"]) | set(splits["validation"]["target"]))

    def misspelt(name: str) -> set[str]:
        return {b.lower() for _, b in _changed(list(zip(splits[name]["source"], splits[name]["target"])))}

    tested = misspelt("test")
    assert len(tested) > 300  # distinct held-out words misspelt (419 in the pinned build)
    assert not tested & (misspelt("train") | misspelt("validation"))


BASELINES = ("symspell", "pyspellchecker")


@pytest.mark.parametrize("name", BASELINES)
def test_dictionary_baselines_correct_unknown_words_and_leave_the_rest(name, tmp_path):
    from finegrain.registry import METHODS
    from finegrain.tasks.spelling.words import word_spans

    method = METHODS.get(name)()
    texts = ["I beleive you.", "Recieve 3.5 km, said the BBC!", "Blair's team can't wait."]
    answers = method.log_probs(texts, None)
    assert [rows.shape for rows in answers] == [(len(word_spans(text)), 3) for text in texts]
    corrections = [[row[1] for row in rows] for rows in answers]
    assert corrections[0] == ["", "believe", "", ""]
    assert corrections[1] == ["Receive", "", "", "", "", "", "", ""]  # numbers, units, punctuation, acronyms kept
    assert corrections[2] == ["", "", "", "", ""]
    for rows in answers:
        for score, correction, probability in rows:
            assert 0.0 <= probability <= 1.0 and (correction == "") == (probability == 0.0) and score > -31
    assert method.fit(texts, None, None).total > 10_000  # the dictionary's words; nothing fitted
    method.save(tmp_path)
    assert method.load(tmp_path, None).log_probs(texts[:1], None)[0].tolist() == answers[0].tolist()


@pytest.mark.parametrize("name", BASELINES + ("symspell-context",))
def test_dictionary_baselines_refuse_the_character_level(name):
    from finegrain.errors import ConfigError
    from finegrain.registry import METHODS, TASKS

    method = METHODS.get(name)()
    with pytest.raises(ConfigError, match=r"task\.level: word.*found task\.level: character"):
        method.check_task(TASKS.get("spelling")())
    with pytest.raises(ConfigError, match="does not support the 'classification' task"):
        method.check_task(TASKS.get("classification")())
