"""Resources come from the mirror, the cache or a download; failures say how to fix them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from helpers.core import sources
from helpers.data import datasets
from helpers.models import packs


def test_failed_download_names_the_mirror_setting(offline: Path) -> None:
    remote = sources.Remote("thing.bin", ("http://127.0.0.1:9/thing.bin",), None, "models/thing.bin")
    with pytest.raises(sources.ResourceUnavailable) as info:
        sources.fetch(remote, timeout=2)
    message = str(info.value)
    assert sources.MIRROR_ENV in message and "models/thing.bin" in message
    assert not (offline / "cache" / "models" / "thing.bin").exists()


def test_mirror_copy_is_used_in_place_and_verified(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = offline / "mirror"
    (mirror / "models").mkdir(parents=True)
    (mirror / "models" / "w.onnx").write_bytes(b"weights")
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror))
    good = sources.Remote("w", ("http://127.0.0.1:9/w",), hashlib.sha256(b"weights").hexdigest(), "models/w.onnx")
    assert sources.fetch(good) == mirror / "models" / "w.onnx"
    bad = sources.Remote("w", ("http://127.0.0.1:9/w",), "0" * 64, "models/w.onnx")
    with pytest.raises(sources.ResourceUnavailable, match="sha256"):
        sources.fetch(bad)


def test_mirror_only_dataset_without_mirror_explains(offline: Path) -> None:
    with pytest.raises(sources.ResourceUnavailable, match=sources.MIRROR_ENV):
        datasets.resolve_dataset("yaleb")


def test_missing_dataset_folder_explains(offline: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset/<identity>/<image>"):
        datasets.resolve_dataset(offline / "nope")


def test_auto_detector_falls_back_offline_and_says_so(mirror: Path, offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror))
    found, note = packs.resolve_detector("auto")
    assert found.name == packs.OFFLINE_DETECTOR and "buffalo_l is not reachable" in note


def test_lfw_resolves_from_the_mirror_with_pairs(mirror: Path) -> None:
    files = datasets.lfw_files()
    assert (files.images / "Abel_Pacheco" / "Abel_Pacheco_0001.jpg").is_file()
    assert files.pairs.read_text().split()[:2] == ["10", "300"]
