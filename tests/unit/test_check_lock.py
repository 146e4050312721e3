"""tools/check_lock.py: `make setup` stops on a requirements.lock that no longer matches pyproject.toml."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "tools" / "check_lock.py")
check_lock = importlib.util.module_from_spec(_spec)
sys.modules["check_lock"] = check_lock  # dataclasses look their module up there
_spec.loader.exec_module(check_lock)

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
  "torch>=2.4,<3",
  "transformers>=5.20,<6",
  "uvicorn[standard]>=0.30,<1",
  "prometheus_client>=0.20,<1",
]

[project.optional-dependencies]
dev = ["pytest>=8,<10"]
"""
LOCK = """\
prometheus-client==0.26.0 \\
    --hash=sha256:00
pytest==9.2.0 \\
    --hash=sha256:01
torch==2.13.0+cpu \\
    --hash=sha256:02
    # via -r tools/lock.in
transformers==5.24.0 \\
    --hash=sha256:03
uvicorn==0.55.0 \\
    --hash=sha256:04
"""


def write_pair(tmp_path: Path, pyproject: str, lock: str) -> tuple[Path, Path]:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "requirements.lock").write_text(lock)
    return tmp_path / "pyproject.toml", tmp_path / "requirements.lock"


def test_matching_pair_passes(tmp_path):
    assert check_lock.check(*write_pair(tmp_path, PYPROJECT, LOCK)) == []


def test_pin_outside_the_range_names_the_package_and_the_fix(tmp_path, capsys):
    pyproject, lock = write_pair(tmp_path, PYPROJECT.replace("transformers>=5.20", "transformers>=5.25"), LOCK)
    assert check_lock.main([str(pyproject), str(lock)]) == 1
    err = capsys.readouterr().err
    assert "make lock" in err
    assert [line for line in err.splitlines() if line.startswith("  ")] == [
        "  requirements.lock:8 pins transformers==5.24.0, but pyproject.toml:5 requires transformers>=5.25,<6."]


def test_dev_extra_missing_from_the_lock_is_named(tmp_path):
    pyproject = PYPROJECT.replace('"pytest>=8,<10"', '"pytest>=8,<10", "ruff>=0.5"')
    problems = check_lock.check(*write_pair(tmp_path, pyproject, LOCK))
    assert problems == ["requirements.lock pins no version of ruff, but pyproject.toml:11 requires ruff>=0.5."]


def test_names_match_whatever_their_spelling(tmp_path):
    """pyproject says prometheus_client, pip-compile writes prometheus-client: the same package."""
    lock = LOCK.replace("prometheus-client==0.26.0", "Prometheus.Client==0.19.0")
    assert check_lock.check(*write_pair(tmp_path, PYPROJECT, lock)) == [
        "requirements.lock:1 pins prometheus_client==0.19.0, but pyproject.toml:7 requires prometheus_client>=0.20,<1."]


@pytest.mark.parametrize(("version", "specifier", "admitted"), [
    ("2.13.0+cpu", ">=2.4,<3", True),
    ("2.13.0+cpu", "==2.13.0", True),
    ("2.13.0", "==2.13.0+cpu", False),
    ("0.1", "==0.1.0", True),
    ("5.24.0", "==5.*", True),
    ("6.0.0", "==5.*", False),
    ("6.0.0rc1", "<6", False),
    ("6.0.0rc1", ">=6.0.0a1", True),
    ("1.0.dev1", ">=1.0", False),
    ("1.0.dev1", "<1.0rc1", True),
    ("1.0.post1", ">1.0", False),
    ("1.0.post1", ">=1.0,!=1.0", True),
    ("2026.10.19.post1", ">=2017.4.17", True),
    ("1.4.2", "~=1.4", True),
    ("2.0", "~=1.4", False),
    ("1.4.9", "~=1.4.2", True),
    ("1.5.0", "~=1.4.2", False),
    ("10.0", ">9.1", True),
    ("1!1.0", ">=2.0", True),
    ("3.1.1", "", True),
])
def test_version_ranges(version, specifier, admitted):
    assert check_lock.in_range(version, specifier) is admitted


def test_the_repository_lock_matches_its_pyproject():
    assert check_lock.check(ROOT / "pyproject.toml", ROOT / "requirements.lock") == []
