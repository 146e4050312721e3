"""Label maps: the fixed, saved correspondence between label names and class ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabelMap", "spelling_variants"]


@dataclass(frozen=True)
class LabelMap:
    """Label names in id order. Sorted at creation so the same data always gives the same ids.

    Example:
        >>> labels = LabelMap.from_values(["pos", "neg", "pos"])
        >>> labels.names, labels.id("pos")
        (('neg', 'pos'), 1)
    """

    names: tuple[str, ...]

    @classmethod
    def from_values(cls, values) -> LabelMap:
        return cls(tuple(sorted({str(v) for v in values})))

    def id(self, name: str) -> int:
        return self.names.index(name)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"labels": list(self.names)}, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LabelMap:
        return cls(tuple(json.loads(path.read_text(encoding="utf-8"))["labels"]))


def spelling_variants(counts: Mapping[str, int]) -> list[tuple[str, list[str]]]:
    """Names that differ only in case or spacing, as (the most frequent, [the others]) per group; on
    a tie the one met first in ``counts`` leads. They are distinct classes, probably by mistake.

    Example:
        >>> spelling_variants({"neutral": 40, "pos": 9, "Neutral": 1, "very  good": 2, "very good": 2})
        [('neutral', ['Neutral']), ('very  good', ['very good'])]
    """
    groups: dict[str, list[str]] = {}
    for name in counts:
        groups.setdefault(" ".join(name.split()).casefold(), []).append(name)
    variants = []
    for names in (names for names in groups.values() if len(names) > 1):
        main = max(names, key=counts.__getitem__)  # max keeps the first of equals
        variants.append((main, [name for name in names if name != main]))
    return variants
