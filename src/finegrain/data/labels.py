"""Label maps: the fixed, saved correspondence between label names and class ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LabelMap"]


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
