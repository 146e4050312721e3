"""Tagging schemes (IOB1, IOB2/BIO, IOE1, IOE2, BIOES/BILOU): read, write, convert, repair.

Every scheme is a way of writing the same thing, a list of typed spans, so everything here goes
through spans: :func:`to_spans` reads tags leniently (as conlleval does: an ``I-X`` that cannot
continue an entity starts one), :func:`from_spans` writes them strictly. Conversion and repair
are a read followed by a write. ``L-``/``U-`` (BILOU) are read as ``E-``/``S-``; output always
uses ``E-``/``S-``.

Example:
    >>> to_spans(["B-PER", "I-PER", "O", "B-LOC"], "IOB2")
    [('PER', 0, 2), ('LOC', 3, 4)]
    >>> convert(["B-PER", "I-PER", "O", "B-LOC"], "IOB2", "BIOES")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from finegrain.errors import DataError, UnknownNameError

__all__ = [
    "SCHEMES",
    "Span",
    "normalize_scheme",
    "split_tag",
    "validate_tag",
    "detect_scheme",
    "to_spans",
    "from_spans",
    "convert",
    "repair",
    "repair_all",
]

Span = tuple[str, int, int]
"""(entity type, first token, end token exclusive)."""

SCHEMES: tuple[str, ...] = ("IOB1", "IOB2", "IOE1", "IOE2", "BIOES")
_ALIASES = {"BIO": "IOB2", "IOBES": "BIOES", "BILOU": "BIOES"}
_PREFIXES = {
    "IOB1": ("I", "B"),
    "IOB2": ("B", "I"),
    "IOE1": ("I", "E"),
    "IOE2": ("I", "E"),
    "BIOES": ("B", "I", "E", "S", "L", "U"),
}
_CANONICAL_PREFIX = {"L": "E", "U": "S"}


def normalize_scheme(scheme: str) -> str:
    """The canonical name of ``scheme`` ('bio' -> 'IOB2', 'BILOU' -> 'BIOES')."""
    name = scheme.strip().upper()
    name = _ALIASES.get(name, name)
    if name not in SCHEMES:
        choices = ", ".join(SCHEMES + tuple(_ALIASES))
        raise UnknownNameError(
            f"Unknown tagging scheme '{scheme}'. Available: {choices}",
            hint="pick the scheme your tags are written in; BIO means IOB2, BILOU means BIOES",
        )
    return name


def split_tag(tag: str) -> tuple[str, str | None]:
    """('B', 'PER') for 'B-PER', ('O', None) for 'O'. Types may contain '-' ('B-geo-loc')."""
    if tag == "O":
        return "O", None
    prefix, sep, entity_type = tag.partition("-")
    if not sep or not entity_type or len(prefix) != 1:
        return tag, None
    return _CANONICAL_PREFIX.get(prefix, prefix), entity_type


def validate_tag(tag: str, scheme: str, *, where: str | None = None) -> None:
    """Raise DataError unless ``tag`` is 'O' or '<prefix>-<type>' with a prefix of ``scheme``."""
    name = normalize_scheme(scheme)
    if tag == "O":
        return
    prefix, sep, entity_type = tag.partition("-")
    if sep and entity_type and prefix in _PREFIXES[name]:
        return
    valid = ", ".join(f"{p}-" for p in _PREFIXES[name])
    raise DataError(
        f"tag '{tag}' is not valid in the {name} scheme: expected 'O' or one of the prefixes "
        f"{valid} followed by an entity type (e.g. '{_PREFIXES[name][0]}-PER')",
        where=where,
        hint="fix the tag in the data, or declare the scheme the tags are written in "
        f"({', '.join(SCHEMES)})",
    )


def _read_tag(tag: str, scheme: str) -> tuple[str, str | None]:
    validate_tag(tag, scheme)
    return split_tag(tag)


def to_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """Typed spans of a tag sequence, read leniently so that invalid transitions still give spans.

    One rule set serves every scheme: B/S start an entity, E/S end one, I continues an open
    entity of its type and otherwise starts one, O closes.
    """
    name = normalize_scheme(scheme)
    spans: list[Span] = []
    open_type: str | None = None
    open_start = 0
    for i, tag in enumerate(tags):
        prefix, entity_type = _read_tag(tag, name)
        continues = open_type is not None and open_type == entity_type and prefix in ("I", "E")
        if open_type is not None and not continues:
            spans.append((open_type, open_start, i))
            open_type = None
        if entity_type is not None and open_type is None:
            open_type, open_start = entity_type, i
        if open_type is not None and prefix in ("E", "S"):
            spans.append((open_type, open_start, i + 1))
            open_type = None
    if open_type is not None:
        spans.append((open_type, open_start, len(tags)))
    return spans


def _check_spans(spans: Sequence[Span], length: int) -> list[Span]:
    ordered = sorted(spans, key=lambda span: (span[1], span[2]))
    previous_end = 0
    for entity_type, start, end in ordered:
        if not (0 <= start < end <= length) or start < previous_end:
            raise ValueError(f"span {(entity_type, start, end)} overlaps another or lies outside 0..{length}")
        previous_end = end
    return ordered


def from_spans(spans: Sequence[Span], length: int, scheme: str) -> list[str]:
    """Tags of ``length`` tokens that write ``spans`` (non-overlapping) in ``scheme``."""
    name = normalize_scheme(scheme)
    ordered = _check_spans(spans, length)
    tags = ["O"] * length
    for index, (entity_type, start, end) in enumerate(ordered):
        before = ordered[index - 1] if index > 0 else None
        after = ordered[index + 1] if index + 1 < len(ordered) else None
        touches_before = before is not None and before[2] == start and before[0] == entity_type
        touches_after = after is not None and after[1] == end and after[0] == entity_type
        inner = ["I"] * (end - start)
        if name == "IOB2" or (name == "IOB1" and touches_before):
            inner[0] = "B"
        elif name == "IOE2" or (name == "IOE1" and touches_after):
            inner[-1] = "E"
        elif name == "BIOES":
            inner = ["S"] if end - start == 1 else ["B"] + ["I"] * (end - start - 2) + ["E"]
        tags[start:end] = [f"{prefix}-{entity_type}" for prefix in inner]
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """``tags`` written in ``source`` rewritten in ``target`` (same spans)."""
    return from_spans(to_spans(tags, source), len(tags), target)


def repair(tags: Sequence[str], scheme: str) -> tuple[list[str], int]:
    """Make ``tags`` valid in ``scheme``; returns the fixed tags and how many tags changed.

    E.g. in IOB2 an ``I-X`` that starts an entity becomes ``B-X``; in BIOES a lone ``B-X``
    becomes ``S-X``. Writing ``L-``/``U-`` as ``E-``/``S-`` is not counted as a repair.
    """
    fixed = convert(tags, scheme, scheme)
    canonical = [_canonical(tag) for tag in tags]
    return fixed, sum(a != b for a, b in zip(canonical, fixed))


def _canonical(tag: str) -> str:
    prefix, entity_type = split_tag(tag)
    return tag if entity_type is None else f"{prefix}-{entity_type}"


def repair_all(sequences: Iterable[Sequence[str]], scheme: str) -> tuple[list[list[str]], int]:
    """:func:`repair` over many sentences; the caller warns when the total count is not zero."""
    fixed: list[list[str]] = []
    total = 0
    for tags in sequences:
        repaired, count = repair(tags, scheme)
        fixed.append(repaired)
        total += count
    return fixed, total


def _prefixes_used(sequences: Sequence[Sequence[str]]) -> set[str]:
    used: set[str] = set()
    for tags in sequences:
        for tag in tags:
            prefix, entity_type = split_tag(tag)
            if prefix != "O" and (entity_type is None or prefix not in "BIESLU"):
                validate_tag(tag, "BIOES")
            used.add(tag[0] if entity_type is not None else "O")
    return used


def _type_at(tags: Sequence[str], index: int) -> str | None:
    return split_tag(tags[index])[1] if 0 <= index < len(tags) else None


def _has_plain_begin(sequences: Sequence[Sequence[str]]) -> bool:
    """A B-X not right after an X token: IOB2 style (IOB1 uses B only between same-type entities)."""
    return any(
        split_tag(tag)[0] == "B" and _type_at(tags, i - 1) != split_tag(tag)[1]
        for tags in sequences
        for i, tag in enumerate(tags)
    )


def _has_plain_end(sequences: Sequence[Sequence[str]]) -> bool:
    """An E-X not right before an X token: IOE2 style (IOE1 uses E only between same-type entities)."""
    return any(
        split_tag(tag)[0] == "E" and _type_at(tags, i + 1) != split_tag(tag)[1]
        for tags in sequences
        for i, tag in enumerate(tags)
    )


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a corpus from the prefixes it uses and where it uses them.

    S/U/L or both B and E -> BIOES; B -> IOB2 when some B starts an entity after a non-entity,
    else IOB1; E -> IOE2 when some E ends an entity before a non-entity, else IOE1; only I -> IOB1;
    no entities at all -> IOB2 (the common default).
    """
    sequences = [list(tags) for tags in tag_sequences]
    used = _prefixes_used(sequences)
    if used & {"S", "U", "L"} or {"B", "E"} <= used:
        return "BIOES"
    if "B" in used:
        return "IOB2" if _has_plain_begin(sequences) else "IOB1"
    if "E" in used:
        return "IOE2" if _has_plain_end(sequences) else "IOE1"
    return "IOB1" if "I" in used else "IOB2"
