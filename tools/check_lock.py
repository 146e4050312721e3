"""Check that requirements.lock still matches pyproject.toml: every requirement of the project (and of the
extras the lock is compiled with) is pinned in the lock, at a version its range admits.

`make setup` runs this with the system Python before it builds the venv, so it uses the standard library
only (no `packaging`); the version rules below are the part of PEP 440 that pins and ranges need.

    python3 tools/check_lock.py [pyproject.toml] [requirements.lock]

Exit 0 when they match; 1 with one line per package that does not, and how to fix it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

LOCKED_EXTRAS = ("dev", "ray", "tracking", "spelling")  # the extras `make lock` passes to pip-compile (--extra ...)
FIX = "Run `make lock` to compile requirements.lock again from pyproject.toml, then commit both files."

_VERSION = re.compile(
    r"""v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|a|b|c|rc)[-_.]?(?P<pre_n>\d*))?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d*))?
    (?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_NO_PRE, _DEV_ONLY, _NO_DEV = (3, 0), (-1, 0), sys.maxsize
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;@]*?)\s*(?:;\s*(.+))?")
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_CLAUSE = re.compile(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*(\S+?)\s*")


@dataclass(frozen=True)
class Version:
    release: tuple[int, ...]
    key: tuple  # what orders versions: epoch, release without trailing zeros, pre, post, dev
    local: str | None
    is_pre: bool  # a pre-release or a dev release
    is_post: bool


def parse_version(text: str) -> Version:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a PEP 440 version: {text!r}")
    parts = match.groupdict()
    release = tuple(int(n) for n in parts["release"].split("."))
    trimmed = release
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed = trimmed[:-1]
    dev = int(parts["dev_n"] or 0) if parts["dev_n"] is not None else None
    post_n = parts["post_n1"] or parts["post_n2"]
    is_post = parts["post_n1"] is not None or parts["post_l"] is not None
    post = int(post_n or 0) if is_post else -1
    if parts["pre_l"]:
        pre = (_PRE_RANK[parts["pre_l"].lower()], int(parts["pre_n"] or 0))
    else:  # a dev release of X sorts before X's pre-releases; X itself after them
        pre = _DEV_ONLY if dev is not None and not is_post else _NO_PRE
    key = (int(parts["epoch"] or 0), trimmed, pre, post, _NO_DEV if dev is None else dev)
    return Version(release, key, parts["local"], bool(parts["pre_l"]) or dev is not None, is_post)


def _prefix_match(version: Version, prefix: str) -> bool:
    wanted = parse_version(prefix).release
    padded = version.release + (0,) * max(0, len(wanted) - len(version.release))
    return padded[: len(wanted)] == wanted


def _equal(version: Version, spec: str) -> bool:
    if spec.endswith(".*"):
        return _prefix_match(version, spec[:-2])
    wanted = parse_version(spec)
    # a pin without a local label (==2.13.0) admits any local build of it (2.13.0+cpu)
    return version.key == wanted.key and (wanted.local is None or wanted.local == version.local)


def admits(clause_op: str, spec: str, version: Version) -> bool:
    """Whether one clause of a range (``op`` and version ``spec``) admits ``version``."""
    if clause_op == "===":
        return False  # arbitrary equality compares strings; pip-compile never writes such a pin
    if clause_op in ("==", "!="):
        return _equal(version, spec) == (clause_op == "==")
    if clause_op == "~=":
        prefix = ".".join(spec.split("+")[0].split(".")[:-1])
        return admits(">=", spec, version) and _prefix_match(version, prefix)
    wanted = parse_version(spec)
    if clause_op == ">=":
        return version.key >= wanted.key
    if clause_op == "<=":
        return version.key <= wanted.key
    if clause_op == ">":  # >1.0 admits neither 1.0.post1 nor 1.0+local
        return version.key > wanted.key and not (version.is_post and version.release == wanted.release
                                                 and not wanted.is_post)
    # <6 admits no pre-release of 6 itself
    return version.key < wanted.key and not (version.is_pre and not wanted.is_pre
                                             and version.key[1] == wanted.key[1])


def in_range(version_text: str, specifier: str) -> bool:
    """Whether ``version_text`` satisfies every comma-separated clause of ``specifier`` ("" admits all)."""
    version = parse_version(version_text)
    for clause in filter(None, (c.strip() for c in specifier.strip("() ").split(","))):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise ValueError(f"not a version clause: {clause!r}")
        if not admits(match[1], match[2], version):
            return False
    return True


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 0


def pins(lock_text: str) -> dict[str, tuple[str, int]]:
    """``{canonical name: (version, line)}`` for every ``name==version`` line of a pip-compile lock."""
    found = {}
    for number, line in enumerate(lock_text.splitlines(), 1):
        match = _PIN.match(line)
        if match:
            found[canonical(match[1])] = (match[2], number)
    return found


def check(pyproject: Path, lock: Path) -> list[str]:
    """One line per requirement of ``pyproject`` that ``lock`` does not pin inside its range."""
    text = pyproject.read_text(encoding="utf-8")
    project = tomllib.loads(text).get("project", {})
    requirements = list(project.get("dependencies", []))
    for extra in LOCKED_EXTRAS:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    pinned = pins(lock.read_text(encoding="utf-8"))
    problems = []
    for requirement in requirements:
        quoted = '"' + requirement + '"'
        where = f"{pyproject.name}:{_line_of(text, quoted)}"
        match = _REQUIREMENT.fullmatch(requirement)
        if match is None:
            problems.append(f"{where}: cannot read the requirement {requirement!r} (expected name[extras] range)")
            continue
        name, specifier, marker = match[1], match[2], match[3]
        pin = pinned.get(canonical(name))
        if pin is None:
            if marker is None:  # one with a marker may be left out of the lock on purpose (other platforms)
                problems.append(f"{lock.name} pins no version of {name}, but {where} requires {requirement}.")
        elif not in_range(pin[0], specifier):
            problems.append(f"{lock.name}:{pin[1]} pins {name}=={pin[0]}, but {where} requires {requirement}.")
    return problems


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    pyproject = Path(argv[0]) if argv else root / "pyproject.toml"
    lock = Path(argv[1]) if len(argv) > 1 else root / "requirements.lock"
    problems = check(pyproject, lock)
    if problems:
        print(f"{lock} does not match {pyproject}:", *(f"  {p}" for p in problems), FIX, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
