"""Shared fixtures: tiny synthetic datasets made on the fly, and the local mirror when present."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.core.sources import ModelFile
from helpers.data.faces import DETECTOR_INPUT, Face

E2E_FOLDERS = ("notebooks", "data")
"""Test folders whose every test runs a notebook or reads real data."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``e2e`` every test that runs a notebook or reads the mirror, so ``make test-fast`` (``-m "not e2e"``) leaves them out."""
    root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else ""
        if folder in E2E_FOLDERS or "mirror" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The local mirror (``LQFACE_MIRROR``); tests that need real data skip without it."""
    value = os.environ.get("LQFACE_MIRROR")
    if not value or not (Path(value) / "datasets").is_dir():
        pytest.skip("LQFACE_MIRROR is not set to a mirror like ../shared")
    return Path(value)


def face_like(seed: int, size: int = 128) -> np.ndarray:
    """A smooth random RGB image with real high-frequency detail (a stand-in for a face photo)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR), dtype=np.int16)
    detail = rng.integers(-40, 40, (size, size, 3))
    return np.clip(image + detail, 0, 255).astype(np.uint8)


def save(path: Path, image: np.ndarray, **kwargs) -> Path:
    """Write an RGB array with Pillow (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, **kwargs)
    return path


@pytest.fixture
def good_dataset(tmp_path: Path) -> Path:
    """Eight identities with three clean JPEGs each."""
    root = tmp_path / "dataset"
    for person in range(8):
        for shot in range(3):
            save(root / f"person_{person}" / f"{shot}.jpg", face_like(person * 10 + shot), quality=95)
    return root


def tree_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (to prove a dataset was left untouched)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class FakeDetector:
    """Stands in for SCRFD: 'finds' a centred face unless the image is nearly black."""

    def __init__(self) -> None:
        self.model = ModelFile("fake.onnx", Path("fake.onnx"), "0" * 64, "test")
        self.threshold = 0.5
        self.input_size = DETECTOR_INPUT
        self.calls = 0

    def cache_key(self) -> str:
        return "fake"

    def detect(self, image_rgb: np.ndarray) -> Face | None:
        self.calls += 1
        if image_rgb.mean() < 10:
            return None
        h, w = image_rgb.shape[:2]
        kps = (0.35 * w, 0.45 * h, 0.65 * w, 0.45 * h, 0.5 * w, 0.6 * h, 0.38 * w, 0.75 * h, 0.62 * w, 0.75 * h)
        return Face(bbox=(0.2 * w, 0.2 * h, 0.8 * w, 0.9 * h), score=0.9, kps=kps, n_faces=1)
