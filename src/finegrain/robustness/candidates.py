"""The word substitutions each attack tries, by registered name: ``char`` (DeepWordBug's edits: swap, substitute
with a keyboard neighbour, delete, insert a letter), ``synonym`` (PWWS's WordNet synonyms) and ``embedding``
(the nearest whole words in the run's own input-embedding matrix: runs the training loop trained only).

Example:
    >>> import random
    >>> sorted(_char_edits("good", random.Random(0)))
    ['god', 'goodp', 'goor', 'ogod']
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from finegrain.registry import Registry
from finegrain.robustness.perturbations import keyboard_typo, match_case
from finegrain.robustness.wordnet import synonyms
from finegrain.training.logits_source import ModelLogits

if TYPE_CHECKING:
    from finegrain.training.predictor import Predictor

__all__ = ["Attack", "ATTACKS", "Candidates", "usable_attacks"]

Candidates = Callable[[str, random.Random], list[str]]  # (word, rng) -> its replacements to try
_SYNONYMS = 15  # synonyms tried per word at most, most frequent senses first
_NEIGHBOURS = 10  # embedding neighbours tried per word


@dataclass(frozen=True)
class Attack:
    """``needs_model``: it reads the PyTorch model (its input embeddings); ``needs_wordnet``: WordNet's synonyms."""

    name: str
    description: str
    build: Callable[["Predictor"], Candidates]
    needs_model: bool = False
    needs_wordnet: bool = False


def _char_edits(word: str, rng: random.Random) -> list[str]:
    edits = [keyboard_typo(word, rng)]
    if len(word) > 1:
        at = rng.randrange(len(word) - 1)
        edits.append(word[:at] + word[at + 1] + word[at] + word[at + 2:])
    if len(word) > 2:
        at = rng.randrange(len(word))
        edits.append(word[:at] + word[at + 1:])
    at = rng.randrange(len(word) + 1)
    edits.append(word[:at] + rng.choice(string.ascii_lowercase) + word[at:])
    return [edit for edit in dict.fromkeys(edits) if edit != word]


def _synonyms(word: str, rng: random.Random) -> list[str]:
    return [match_case(synonym, word) for synonym in synonyms(word.lower())[:_SYNONYMS]]


class _Neighbours:
    """The whole-word vocabulary entries nearest (cosine) to a word's mean input embedding."""

    def __init__(self, predictor: Predictor):
        source: ModelLogits = predictor.source
        self.tokenizer = source.encoding.tokenizer
        self.matrix = source.model.get_input_embeddings().weight.detach().float().cpu()
        special = set(self.tokenizer.all_special_tokens)
        vocabulary = [(token, index) for token, index in self.tokenizer.get_vocab().items()
                      if token.isalpha() and len(token) > 1 and token not in special and index < len(self.matrix)]
        self.words = [token for token, _ in vocabulary]
        rows = self.matrix[[index for _, index in vocabulary]]
        self.unit = rows / rows.norm(dim=1, keepdim=True).clamp(min=1e-9)
        self.cache: dict[str, list[str]] = {}

    def __call__(self, word: str, rng: random.Random) -> list[str]:
        key = word.lower()
        if key not in self.cache:
            ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
            if not ids or not self.words:
                return []
            vector = self.matrix[ids].mean(0)
            scores = self.unit @ (vector / vector.norm().clamp(min=1e-9))
            top = torch.topk(scores, min(len(self.words), _NEIGHBOURS + 1)).indices.tolist()
            self.cache[key] = [self.words[i] for i in top if self.words[i].lower() != key][:_NEIGHBOURS]
        return [match_case(neighbour, word) for neighbour in self.cache[key]]


ATTACKS = Registry[Attack]("attack")
ATTACKS.register("char", Attack("char", "DeepWordBug-style character edits", lambda predictor: _char_edits),
                 aliases=("character", "deepwordbug"))
ATTACKS.register("synonym", Attack("synonym", "PWWS-style WordNet synonyms", lambda predictor: _synonyms,
                                   needs_wordnet=True), aliases=("pwws", "wordnet"))
ATTACKS.register("embedding", Attack("embedding", "nearest words in the model's input-embedding space", _Neighbours,
                                     needs_model=True), aliases=("embeddings",))


def usable_attacks(predictor: Predictor) -> list[str]:
    """The attacks this run can use: all for a PyTorch model, not ``embedding`` for the others."""
    model = isinstance(predictor.source, ModelLogits)
    return [name for name, attack in ATTACKS.items() if model or not attack.needs_model]
