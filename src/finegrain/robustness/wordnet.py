"""WordNet synonyms for the synonym attack, from Debian's ``wordnet-base`` package (``/usr/share/wordnet``),
read with nltk's ``WordNetCorpusReader`` and never downloaded.

nltk needs a ``lexnames`` file, which the Debian package lacks, and files of its own (it refuses symlinks and hard
links, which could lead outside its folder): the database files are copied once into ``$FINEGRAIN_CACHE/wordnet``
(28 MB) beside a written ``lexnames`` and an empty ``index.sense``. The folder is
``corpora/wordnet`` under a root added to ``nltk.data.path``, because the reader looks itself up there by name to map
sense keys between WordNet versions; with no sense keys that map is empty, and finding synonyms never uses it.

Example:
    >>> synonyms("film")[:3]  # doctest: +SKIP
    ['movie', 'picture', 'moving-picture']
"""

from __future__ import annotations

import os
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from finegrain.data.package_wheels import cache_dir
from finegrain.errors import DataError

__all__ = ["wordnet_folder", "wordnet_available", "synonyms", "MISSING_HINT"]

_SYSTEM = Path("/usr/share/wordnet")  # where Debian's wordnet-base puts the WordNet 3.0 database
_FILES = [f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")] + \
    [f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")]
MISSING_HINT = ("install Debian's WordNet database: `apt-get install wordnet-base` (or `make setup`), or set"
                " FINEGRAIN_WORDNET to a folder holding WordNet 3.0's data.* and index.* files; the character and"
                " embedding attacks run without it.")

# WordNet 3.0's lexicographer files, in their numbered order (lexnames(5WN)): nltk reads them from `lexnames`
_LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body"
             " noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location"
             " noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process"
             " noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change"
             " verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation"
             " verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather"
             " adj.ppl").split()
_POS_NUMBER = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def _source() -> Path:
    return Path(os.environ.get("FINEGRAIN_WORDNET") or _SYSTEM)


def wordnet_available() -> bool:
    """True when the WordNet database files are there."""
    return all((_source() / name).is_file() for name in _FILES)


def wordnet_folder() -> Path:
    """The cache folder nltk reads: the database's files as real files, and ``lexnames``."""
    source = _source()
    missing = [name for name in _FILES if not (source / name).is_file()]
    if missing:
        raise DataError(f"the synonym attack needs WordNet, but {source} lacks {', '.join(missing[:3])}"
                        f"{' ...' if len(missing) > 3 else ''}.", where=str(source), hint=MISSING_HINT)
    folder = _root() / "corpora" / "wordnet"
    folder.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        target = folder / name
        if not target.is_file() or target.stat().st_size != (source / name).stat().st_size \
                or target.stat().st_nlink > 1:
            _place(source / name, target)
    lexnames = "".join(f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES))
    if not (folder / "lexnames").is_file():
        (folder / "lexnames").write_text(lexnames, encoding="ascii")
    (folder / "index.sense").touch()
    return folder


def _root() -> Path:
    return cache_dir() / "nltk"


def _place(source: Path, target: Path) -> None:
    """A copy of its own, moved into place whole (a concurrent reader never sees half a file)."""
    temporary = target.with_suffix(target.suffix + ".partial")
    shutil.copyfile(source.resolve(), temporary)
    os.replace(temporary, target)


@lru_cache(maxsize=1)
def _reader() -> Any:
    import nltk.data  # nltk loads only when synonyms are asked for
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    folder = str(wordnet_folder())
    if str(_root()) not in nltk.data.path:  # nltk reads corpora only under the folders named there
        nltk.data.path.append(str(_root()))
    with warnings.catch_warnings():  # "multilingual functions are not available": no Open Multilingual Wordnet asked
        warnings.simplefilter("ignore", UserWarning)
        return WordNetCorpusReader(folder, None)


@lru_cache(maxsize=4096)
def synonyms(word: str) -> list[str]:
    """One-word synonyms of ``word`` (lowercase), most frequent sense first, the word itself left out."""
    found: list[str] = []
    for synset in _reader().synsets(word.lower()):
        for lemma in synset.lemma_names():
            if lemma.isalpha() and lemma.lower() != word.lower() and lemma not in found:
                found.append(lemma)
    return found
