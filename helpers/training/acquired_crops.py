"""Training crops acquired end to end: each train photo degraded whole, its face found and aligned on the degraded photo.

The alternative to alignment jitter (:mod:`helpers.training.alignment_noise`). Instead of replaying measured
landmark errors on HQ crops, every train photo is degraded ``copies`` times at seeded levels drawn from the
training distribution (:func:`helpers.data.degrade.random_degradation` over ``lq_resolutions`` and
``lq_families``), the end-to-end detector runs on the degraded photo alone, and the face it finds is aligned
there: :func:`helpers.data.acquire.acquire`, as notebook 01 acquires val and test. A degraded training sample
is then one of its photo's acquired crops (:class:`helpers.training.data.TrainingFaces`); a photo with none falls
back to its HQ crop degraded on the fly.

A found face that overlaps the HQ box by IoU < 0.5 is another face, whose crop would carry this person's label:
it is counted and never trained on. Training data may use HQ geometry so; val and test never do. Only the train
rows given are read. Each outcome is cached per (photo, copy, seed, detector, versions) in one JSON line, and each
crop is written atomically under ``<processed>/.cache/train-e2e-v<version>/<detector>/``, so a killed run resumes.
Memory: the acquired crops are held like the HQ ones, 37.6 KB each (two copies of 6,000 train photos: 450 MB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.cache import JsonlCache
from helpers.core.files import path_inside, read_png_rgb, write_png_atomic
from helpers.core.progress import progress
from helpers.data.acquire import ACQUIRE_VERSION, ACQUIRED, NO_FACE, NO_REFERENCE, acquire
from helpers.data.degrade import DEGRADE_VERSION, Degradation, image_seed, random_degradation
from helpers.data.faces import Detector
from helpers.data.manifest import LANDMARKS, row_numbers
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb

ACQUIRED_VERSION = 1
"""Bump when what decides an acquired training crop changes (the level draw, the wrong-face rule)."""
WRONG_FACE = "wrong_face"
"""A face found on the degraded photo that is not the HQ one (IoU < 0.5): never trained on."""


@dataclass(frozen=True)
class AcquiredCrops:
    """Per train row, in order, an ``(n, 112, 112, 3)`` uint8 array of its acquired crops (``n`` may be 0), and the
    counts over every (photo, copy): ``acquired``, ``no_face``, ``wrong_face``, ``no_reference``."""

    crops: tuple[np.ndarray, ...]
    counts: dict[str, int]
    copies: int
    detector: str

    def summary(self) -> dict[str, Any]:
        """What the training summary records: copies per photo, the outcome counts, the photos left without any crop."""
        empty = sum(1 for found in self.crops if len(found) == 0)
        return {"copies": self.copies, "detector": self.detector, **self.counts, "photos_without_crop": empty, "photos": len(self.crops)}


def copy_level(sha256: str, copy: int, resolutions: tuple[int, ...], families: tuple[str, ...], seed: int) -> Degradation:
    """The training level of copy ``copy`` of the photo with content hash ``sha256``: seeded by (seed, copy, photo)."""
    rng = np.random.default_rng([seed, copy, int(sha256[:15], 16)])
    return replace(random_degradation(rng, resolutions, families), name=f"train{copy}")


def _acquire_copy(photo: np.ndarray, row: pd.Series, level: Degradation, degrade_seed: int, detector: Detector, target: Path) -> dict[str, Any]:
    """One photo at one copy's level: ``acquired`` (crop written), ``no_face`` or ``wrong_face``."""
    found = acquire(photo, row_numbers(row["bbox"]), row_numbers(row["kps"]), level, degrade_seed, detector)
    if found.crop is None:
        return {"status": NO_FACE}
    if found.wrong_face:
        return {"status": WRONG_FACE}
    write_png_atomic(target, found.crop)
    return {"status": ACQUIRED}


def acquire_train_crops(
    train: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    detector: Detector,
    copies: int,
    resolutions: tuple[int, ...],
    families: tuple[str, ...],
    seed: int = 0,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> AcquiredCrops:
    """``copies`` end-to-end acquisitions of every row of ``train`` (the training images, in training order)."""
    if copies < 1:
        raise ValueError(f"copies must be >= 1 acquisitions a train photo, not {copies}")
    cache_dir = Path(processed_dir).resolve() / ".cache"
    items = JsonlCache(cache_dir / f"train-e2e-{detector.cache_key()}.jsonl")
    folder = (f"train-e2e-v{ACQUIRED_VERSION}", detector.cache_key())
    counts = dict.fromkeys((ACQUIRED, NO_FACE, WRONG_FACE, NO_REFERENCE), 0)
    crops = []
    for _, row in progress(list(train.iterrows()), "training crops: degrade photo, detect, align"):
        photo, found = None, []
        if row["crop_method"] != LANDMARKS:  # a centre crop: no face geometry to degrade by
            counts[NO_REFERENCE] += copies
            crops.append(np.zeros((0, 112, 112, 3), dtype=np.uint8))
            continue
        for copy in range(copies):
            level = copy_level(row["sha256"], copy, resolutions, families, seed)
            degrade_seed = image_seed(row["sha256"], level, seed)
            key = f"{row['sha256']}:{copy}:{degrade_seed:016x}:v{ACQUIRED_VERSION}.{ACQUIRE_VERSION}.{DEGRADE_VERSION}"
            target = path_inside(cache_dir, *folder, f"{row['sha256'][:16]}-{copy}-{degrade_seed:016x}.png")
            outcome = items.get(key)
            if outcome is None or (outcome["status"] == ACQUIRED and not target.exists()):
                photo = load_rgb(Path(dataset_root) / row["path"], max_megapixels) if photo is None else photo
                outcome = _acquire_copy(photo, row, level, degrade_seed, detector, target)
                items.put(key, outcome)
            counts[outcome["status"]] += 1
            if outcome["status"] == ACQUIRED:
                found.append(read_png_rgb(target))
        crops.append(np.stack(found) if found else np.zeros((0, 112, 112, 3), dtype=np.uint8))
    return AcquiredCrops(tuple(crops), counts, copies, detector.cache_key())
