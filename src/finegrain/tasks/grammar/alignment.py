"""Word-level alignment of a source and a corrected text: the edits that turn one into the other.

Words are :func:`finegrain.tasks.spelling.words.words` (letters with inner apostrophes, numbers, each other
visible character alone). The alignment is a Levenshtein one over words (unit costs); among equally cheap
alignments it prefers a substitution to a deletion plus an insertion, and a substitution of a word by the same
word in another case or form (cost below 1), so "go" -> "goes" is one replacement, not two edits.

An edit is ``(start, end, replacement)`` over source word indices: ``(2, 3, ("goes",))`` replaces word 2,
``(2, 2, ("the",))`` inserts before word 2, ``(2, 3, ())`` deletes it. Adjacent changes are merged into one
edit (as ERRANT merges neighbouring operations), so one wrong phrase counts once.

Example:
    >>> word_edits(["He", "go", "to", "school"], ["He", "goes", "to", "the", "school"])
    [(1, 2, ('goes',)), (3, 3, ('the',))]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Edit", "align", "word_edits"]

Edit = tuple[int, int, tuple[str, ...]]
_NEAR = 0.5  # a word for itself in another case or form: cheaper than other swaps (0.5: sums stay exact)


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    a, b = a.lower(), b.lower()
    shared = min(3, len(a), len(b))  # the same stem, as far as a short word shows one: go/goes, child/children
    if a == b or (shared > 1 and a[:shared] == b[:shared]):
        return _NEAR
    return 1.0


def align(source: Sequence[str], target: Sequence[str]) -> list[tuple[str, int, int]]:
    """Operations in order: ("equal" | "replace", i, j), ("delete", i, -1), ("insert", -1, j)."""
    n, m = len(source), len(target)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = float(i)
    for j in range(1, m + 1):
        cost[0][j] = float(j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j - 1] + _substitution(source[i - 1], target[j - 1]),
                             cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    operations = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + _substitution(source[i - 1], target[j - 1]):
            operations.append(("equal" if source[i - 1] == target[j - 1] else "replace", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            operations.append(("delete", i - 1, -1))
            i -= 1
        else:
            operations.append(("insert", -1, j - 1))
            j -= 1
    return operations[::-1]


def word_edits(source: Sequence[str], target: Sequence[str]) -> list[Edit]:
    """The merged edits turning ``source`` into ``target`` (see the module docstring), in source order."""
    edits: list[Edit] = []
    start, replacement, position = None, [], 0
    for kind, i, j in align(source, target):
        if kind == "equal":
            if start is not None:
                edits.append((start, position, tuple(replacement)))
                start, replacement = None, []
            position = i + 1
            continue
        if start is None:
            start = position
        if kind != "insert":
            position = i + 1
        if kind != "delete":
            replacement.append(target[j])
    if start is not None:
        edits.append((start, position, tuple(replacement)))
    return edits
