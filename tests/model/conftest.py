"""Tiny synthetic processed datasets (notebook 01's layout) for training tests, and ORL from the mirror."""

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
SHARED_CODE = {"train_people": 12, "val_people": 12, "train_shots": 16, "val_shots": 4, "bases": 8}
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


def crop_row(root: Path, person: int, shot: int, split: str, image: np.ndarray) -> dict:
    """Write one synthetic person's aligned crop under ``root`` and return its manifest row."""
    crop = f"aligned/p{person}/{shot}.png"
    write_png_atomic(root / crop, image)
    return {
        "path": f"p{person}/{shot}.jpg",
        "identity": f"p{person}",
        "sha256": f"{person:032d}{shot:032d}",
        "status": "ok",
        "split": split,
        "protocol": "open-set: identity-disjoint splits",
        "crop_path": crop,
        "crop_method": "landmarks",
    }


@pytest.fixture(scope="session")
def synthetic_processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``manifest.csv``, ``levels.json`` and aligned crops for 8 train and 6 val people, 5 images each."""
    root = tmp_path_factory.mktemp("processed")
    rows = []
    for person in range(TRAIN_PEOPLE + VAL_PEOPLE):
        split = "train" if person < TRAIN_PEOPLE else "val"
        for shot in range(PER_PERSON):
            rows.append(crop_row(root, person, shot, split, synthetic_crop(person, shot)))
    return write_processed(root, rows)


def shared_code_bases(seed: int, count: int, size: int = 112) -> np.ndarray:
    """``count`` smooth random grey patterns (a 4 x 4 grid of normal values, cubic-upsampled), each of mean 0 and std 1."""
    rng = np.random.default_rng([seed, 0xBA5E])
    fields = [cv2.resize(rng.normal(size=(4, 4)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC) for _ in range(count)]
    return np.stack([(f - f.mean()) / f.std() for f in fields])


def shared_code_crop(code: np.ndarray, bases: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A person (a code over the shared ``bases``, drawn in grey) under strong per-shot nuisance.

    The nuisance is what the ImageNet start mistakes for identity: a lighting gradient in a random
    direction, a colour cast (per-channel gain and offset), a shift of up to 6 px and sensor noise.
    Both identity and nuisance are coarse, so they survive the 16 px validation probes.
    """
    size = bases.shape[-1]
    grey = 128.0 + 25.0 * np.tensordot(code, bases, axes=1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    lit = grey + 240.0 * rng.uniform(0.3, 1.0) * (np.cos(angle) * xx + np.sin(angle) * yy)
    tinted = lit[..., None] * rng.uniform(0.65, 1.35, 3) + rng.uniform(-40, 40, 3)
    shift = np.float32([[1, 0, rng.integers(-6, 7)], [0, 1, rng.integers(-6, 7)]])
    moved = cv2.warpAffine(tinted.astype(np.float32), shift, (size, size), borderMode=cv2.BORDER_REFLECT)
    return np.clip(moved + rng.normal(0, 8, moved.shape), 0, 255).astype(np.uint8)


def write_shared_code_people(root: Path, seed: int = 0) -> Path:
    """People whose identity is a random code over a few patterns shared by everyone (train and val alike).

    What training on the train people can learn (read the code, ignore lighting, colour cast and shift)
    is what tells val people apart, so val AUC on people never trained on rises well above the
    ImageNet start. 16 shots per train person make memorising the train people harder than learning
    the rule (with 6 shots, val AUC rose on some seeds and not on others). The fast synthetic people
    of :func:`synthetic_crop` have nothing in common to learn, and their HQ val AUC falls while the loss falls.
    """
    shape = SHARED_CODE
    bases = shared_code_bases(seed, shape["bases"])
    rows = []
    for person in range(shape["train_people"] + shape["val_people"]):
        split = "train" if person < shape["train_people"] else "val"
        code = np.random.default_rng([seed, person]).normal(size=shape["bases"])
        code *= np.sqrt(shape["bases"]) / np.linalg.norm(code)
        for shot in range(shape["train_shots"] if split == "train" else shape["val_shots"]):
            rows.append(crop_row(root, person, shot, split, shared_code_crop(code, bases, np.random.default_rng([seed, person, shot]))))
    return write_processed(root, rows)


@pytest.fixture(scope="session")
def shared_code_processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 train people x 16 images and 12 val people x 4 images of :func:`write_shared_code_people`."""
    return write_shared_code_people(tmp_path_factory.mktemp("shared_code"))


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
