"""A tiny synthetic processed dataset (notebook 01's layout) for training tests."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from helpers.core.files import write_png_atomic
from tests.conftest import face_like

TRAIN_PEOPLE, VAL_PEOPLE, PER_PERSON = 8, 6, 5
ORL_TRAIN_PEOPLE = 28  # of ORL's 40; the other 12 are the val split
PX16 = {"name": "px16", "resolution": 16, "blur_sigma": 0.0, "jpeg_quality": None, "noise_sigma": 0.0, "light": 1.0, "gamma": 1.0}


def synthetic_crop(person: int, shot: int) -> np.ndarray:
    """A person's fixed pattern, shifted, tinted and noised per shot: learnable, but not trivially."""
    rng = np.random.default_rng([person, shot])
    base = face_like(person, size=112).astype(np.float32)
    shift = np.float32([[1, 0, rng.integers(-4, 5)], [0, 1, rng.integers(-4, 5)]])
    moved = cv2.warpAffine(base, shift, (112, 112), borderMode=cv2.BORDER_REFLECT)
    noisy = moved * rng.uniform(0.8, 1.1) + rng.normal(0, 15, moved.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def synthetic_processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``manifest.csv``, ``levels.json`` and aligned crops for 8 train and 6 val people, 5 images each."""
    root = tmp_path_factory.mktemp("processed")
    rows = []
    for person in range(TRAIN_PEOPLE + VAL_PEOPLE):
        split = "train" if person < TRAIN_PEOPLE else "val"
        for shot in range(PER_PERSON):
            crop = f"aligned/p{person}/{shot}.png"
            write_png_atomic(root / crop, synthetic_crop(person, shot))
            rows.append(
                {
                    "path": f"p{person}/{shot}.jpg",
                    "identity": f"p{person}",
                    "sha256": f"{person:032d}{shot:032d}",
                    "status": "ok",
                    "split": split,
                    "protocol": "open-set: identity-disjoint splits",
                    "crop_path": crop,
                    "crop_method": "landmarks",
                }
            )
    return write_processed(root, rows)


def write_processed(root: Path, rows: list[dict]) -> Path:
    """Notebook 01's ``manifest.csv`` and ``levels.json`` (one level, px16) beside crops already written."""
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    (root / "levels.json").write_text(json.dumps({"levels": {"px16": {**PX16, "folder": "lq/px16"}}, "seed": 0}))
    return root


@pytest.fixture(scope="session")
def orl_processed(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Path:
    """ORL (real faces, already cropped) as a processed folder: 28 train and 12 val people, 10 images each."""
    source = mirror / "datasets" / "orl" / "att_faces"
    root = tmp_path_factory.mktemp("orl")
    people = sorted((p for p in source.iterdir() if p.is_dir()), key=lambda p: int(p.name[1:]))
    rows = []
    for number, person in enumerate(people):
        for image in sorted(person.glob("*.pgm")):
            grey = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)[10:102]  # 92 x 92, face centred
            crop = f"aligned/{person.name}/{image.stem}.png"
            write_png_atomic(root / crop, np.repeat(cv2.resize(grey, (112, 112), interpolation=cv2.INTER_AREA)[..., None], 3, axis=2))
            rows.append(
                {
                    "path": f"{person.name}/{image.name}",
                    "identity": person.name,
                    "sha256": f"{number:032d}{int(image.stem):032d}",
                    "status": "ok",
                    "split": "train" if number < ORL_TRAIN_PEOPLE else "val",
                    "protocol": "open-set: identity-disjoint splits",
                    "crop_path": crop,
                    "crop_method": "centre",
                }
            )
    return write_processed(root, rows)
