"""Measured alignment noise: the landmark error a detector makes on degraded photos, replayed on HQ training crops.

Training crops are aligned on landmarks found in the HQ photo; a deployed system aligns on landmarks found in
the degraded photo (:mod:`helpers.data.acquire`), so its crops are misaligned in a way training never sees.
:func:`measure` degrades a seeded sample of train photos exactly as the end-to-end evaluation does, detects on
them, and records each found landmark's error in the 112 x 112 frame of the HQ alignment. :func:`draw` resamples
one measured error (the empirical distribution, so mean and spread match by construction) and
:func:`jitter_crop` re-aligns an HQ crop as a deployed system would have, had it found the landmarks there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

from helpers.core.cache import JsonlCache
from helpers.core.files import write_json_atomic
from helpers.core.progress import progress
from helpers.data.acquire import ACQUIRE_VERSION, WRONG_FACE_IOU, box_iou, face_scale
from helpers.data.degrade import DEGRADE_VERSION, Degradation, degrade_photo, image_seed
from helpers.data.faces import CROP_SIZE, Detector
from helpers.data.manifest import LANDMARKS, OK, row_numbers
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb

NOISE_VERSION = 1
"""Bump when what a measured error is changes: cached measurements carry it, so none is reused."""
DEFAULT_RESOLUTIONS = (32, 24, 16, 12)
TRAIN = "train"
TEMPLATE = np.asarray(arcface_dst, dtype=np.float64)
INTER_OCULAR = float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0]))
"""The template's eye distance in crop pixels (about 35.2): the unit of the normalised displacement."""
FOUND, NO_FACE, WRONG_FACE = "found", "no_face", "wrong_face"
SUMMARY_COLUMNS = ["resolution", "n", "no_face", "wrong_face", "mean_dx", "mean_dy", "std_dx", "std_dy", "nme_median", "nme_p90"]


@dataclass(frozen=True, eq=False)
class AlignmentNoise:
    """Landmark errors measured per face resolution (px): ``errors[r]`` is N_r x 5 x 2 in crop pixels.

    Every sampled image is accounted for at every resolution: found (an error row), ``no_face`` (the
    detector found none) or ``wrong_face`` (its pick overlaps the HQ box by less than
    :data:`~helpers.data.acquire.WRONG_FACE_IOU`: another face, whose offset is not misalignment of this one).
    """

    errors: Mapping[int, np.ndarray]
    no_face: Mapping[int, int]
    wrong_face: Mapping[int, int]
    sample_size: int
    detector: str
    seed: int

    def __post_init__(self) -> None:
        for r, error in self.errors.items():
            if error.ndim != 3 or error.shape[1:] != (5, 2):
                raise ValueError(f"errors[{r}] must be N x 5 x 2 (crop pixels), got shape {error.shape}")
            accounted = len(error) + self.no_face[r] + self.wrong_face[r]
            if accounted != self.sample_size:
                raise ValueError(f"at {r} px, {len(error)} found + {self.no_face[r]} no face + {self.wrong_face[r]} wrong face != {self.sample_size} sampled")

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The measured face resolutions, largest first."""
        return tuple(sorted(self.errors, reverse=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": NOISE_VERSION,
            "errors": {str(r): np.round(e, 4).tolist() for r, e in self.errors.items()},
            "no_face": {str(r): n for r, n in self.no_face.items()},
            "wrong_face": {str(r): n for r, n in self.wrong_face.items()},
            "sample_size": self.sample_size,
            "detector": self.detector,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlignmentNoise:
        if data.get("version") != NOISE_VERSION:
            raise ValueError(f"alignment noise of version {data.get('version')} cannot be read as version {NOISE_VERSION}: measure() it again")
        return cls(
            errors={int(r): np.asarray(e, dtype=np.float64).reshape(-1, 5, 2) for r, e in data["errors"].items()},
            no_face={int(r): int(n) for r, n in data["no_face"].items()},
            wrong_face={int(r): int(n) for r, n in data["wrong_face"].items()},
            sample_size=int(data["sample_size"]),
            detector=str(data["detector"]),
            seed=int(data["seed"]),
        )


def check_resolutions(resolutions: tuple[int, ...]) -> tuple[int, ...]:
    """``resolutions`` as a sorted (largest first) tuple of distinct ints in 4..112."""
    values = tuple(sorted({int(r) for r in resolutions}, reverse=True))
    if not values or not all(4 <= r <= CROP_SIZE for r in values):
        raise ValueError(f"resolutions must be face sizes in 4..{CROP_SIZE} px, e.g. {DEFAULT_RESOLUTIONS}; got {resolutions!r}")
    return values


def sample_rows(manifest: pd.DataFrame, sample_size: int, seed: int) -> pd.DataFrame:
    """A seeded sample of up to ``sample_size`` usable train images aligned on landmarks (all of them when fewer)."""
    if sample_size < 1:
        raise ValueError(f"sample_size must be at least 1, got {sample_size}")
    usable = manifest[(manifest["status"] == OK) & (manifest["split"] == TRAIN) & (manifest["crop_method"] == LANDMARKS)]
    if usable.empty:
        raise ValueError("the manifest has no usable train images aligned on landmarks: run notebook 01 on a dataset with a train split first")
    usable = usable.sort_values("sha256", kind="stable")
    picked = np.sort(np.random.default_rng(seed).choice(len(usable), size=min(sample_size, len(usable)), replace=False))
    return usable.iloc[picked]


def crop_error(found_kps: np.ndarray, hq_kps: np.ndarray) -> np.ndarray:
    """Found landmarks minus the HQ ones, both in the crop frame of the HQ alignment (5 x 2, crop pixels).

    The reference is the HQ landmarks' own place in the crop, not the template: the similarity fit leaves each
    face's shape residual (a few px), which is no detector error; the jitter it drives is the same to first order.
    """
    transform = SimilarityTransform.from_estimate(hq_kps.reshape(5, 2), TEMPLATE)
    return transform(found_kps.reshape(5, 2)) - transform(hq_kps.reshape(5, 2))


def measure_one(photo: np.ndarray, row: pd.Series, level: Degradation, seed: int, detector: Detector) -> dict[str, Any]:
    """One photo at one level, degraded and detected as :func:`helpers.data.acquire.acquire` does: the outcome and its error."""
    hq_kps = row_numbers(row["kps"])
    degraded = degrade_photo(photo, level, image_seed(row["sha256"], level, seed), face_scale(hq_kps))
    found = detector.detect(degraded)
    if found is None:
        return {"status": NO_FACE, "error": None}
    ratio = np.array([photo.shape[1] / degraded.shape[1], photo.shape[0] / degraded.shape[0]])
    if box_iou(np.asarray(found.bbox) * np.tile(ratio, 2), row_numbers(row["bbox"])) < WRONG_FACE_IOU:
        return {"status": WRONG_FACE, "error": None}
    error = crop_error(np.asarray(found.kps).reshape(5, 2) * ratio, hq_kps)
    return {"status": FOUND, "error": np.round(error, 4).tolist()}


def measurement_key(rows: pd.DataFrame, resolutions: tuple[int, ...], seed: int, detector: Detector) -> str:
    """Content hash of what decides a measurement: the sampled images, resolutions, seed, detector and versions."""
    spec = {
        "images": sorted(rows["sha256"]),
        "resolutions": list(resolutions),
        "seed": seed,
        "detector": detector.cache_key(),
        "versions": [NOISE_VERSION, ACQUIRE_VERSION, DEGRADE_VERSION],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def measure(
    manifest: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    detector: Detector,
    resolutions: tuple[int, ...] = DEFAULT_RESOLUTIONS,
    sample_size: int = 200,
    seed: int = 0,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> AlignmentNoise:
    """The alignment noise of ``detector`` at each face resolution, on a seeded sample of train photos.

    ``seed`` picks the sample and seeds each photo's degradation (:func:`~helpers.data.degrade.image_seed`).
    The result is cached in ``<processed>/.cache/alignment-noise-<key>.json`` (:func:`measurement_key`), and each
    (image, level) outcome in a JSON-lines file per detector, so a second call is instant and a killed one resumes.
    """
    resolutions = check_resolutions(resolutions)
    rows = sample_rows(manifest, sample_size, seed)
    cache_dir = Path(processed_dir).resolve() / ".cache"
    target = cache_dir / f"alignment-noise-{measurement_key(rows, resolutions, seed, detector)}.json"
    if target.is_file():
        return AlignmentNoise.from_json(json.loads(target.read_text(encoding="utf-8")))
    items = JsonlCache(cache_dir / f"alignment-noise-{detector.cache_key()}.jsonl")
    levels = [Degradation(f"px{r}", resolution=r) for r in resolutions]
    outcomes: dict[int, list[dict[str, Any]]] = {r: [] for r in resolutions}
    for _, row in progress(list(rows.iterrows()), "alignment noise: degrade photo, detect"):
        photo = None
        for level in levels:
            key = _item_key(row["sha256"], level, seed)
            if key not in items:
                photo = load_rgb(Path(dataset_root) / row["path"], max_megapixels) if photo is None else photo
                items.put(key, measure_one(photo, row, level, seed, detector))
            outcomes[level.resolution].append(items.get(key))
    noise = _collect(outcomes, len(rows), detector.cache_key(), seed)
    write_json_atomic(target, noise.to_json())
    return noise


def _item_key(sha256: str, level: Degradation, seed: int) -> str:
    return f"{sha256}:{image_seed(sha256, level, seed):016x}:v{NOISE_VERSION}.{ACQUIRE_VERSION}.{DEGRADE_VERSION}"


def _collect(outcomes: Mapping[int, list[dict[str, Any]]], sample_size: int, detector: str, seed: int) -> AlignmentNoise:
    """The per-item outcomes gathered into one :class:`AlignmentNoise`."""
    errors = {r: np.asarray([o["error"] for o in found if o["status"] == FOUND], dtype=np.float64).reshape(-1, 5, 2) for r, found in outcomes.items()}
    count = lambda status: {r: sum(o["status"] == status for o in found) for r, found in outcomes.items()}
    return AlignmentNoise(errors, count(NO_FACE), count(WRONG_FACE), sample_size, detector, seed)


def summary(noise: AlignmentNoise) -> pd.DataFrame:
    """Per resolution: faces found (``n``), failures, mean and std of the error (crop px, pooled over the five
    landmarks), and median and 90th percentile of the mean landmark displacement over the template's eye distance."""
    records = []
    for r in noise.resolutions:
        error = noise.errors[r]
        nme = np.linalg.norm(error, axis=2).mean(axis=1) / INTER_OCULAR
        flat = error.reshape(-1, 2)
        stats = (*flat.mean(axis=0), *flat.std(axis=0), np.median(nme), np.percentile(nme, 90)) if len(error) else (np.nan,) * 6
        records.append((r, len(error), noise.no_face[r], noise.wrong_face[r], *stats))
    return pd.DataFrame(records, columns=SUMMARY_COLUMNS)


def source_resolution(noise: AlignmentNoise, resolution: int) -> int:
    """The measured resolution whose errors serve ``resolution``: the nearest one with at least one face found.

    A resolution where the detector found no face (every image a failure) has no misalignment to replay, and no
    jitter would pretend alignment is perfect there, so the nearest resolution with data stands in; ties go to the
    smaller (noisier) one. Outside the measured range, the nearest end serves: measure the range training draws from.
    """
    measured = [r for r in noise.resolutions if len(noise.errors[r])]
    if not measured:
        raise ValueError(f"no face was found at any measured resolution {noise.resolutions}: measure on more images or at larger resolutions")
    return min(measured, key=lambda r: (abs(r - resolution), r))


def draw(noise: AlignmentNoise, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One measured 5 x 2 error (crop pixels) for ``resolution``, resampled uniformly from :func:`source_resolution`'s (one draw from ``rng``)."""
    errors = noise.errors[source_resolution(noise, resolution)]
    return errors[rng.integers(len(errors))].copy()


def jitter_crop(crop: np.ndarray, error: np.ndarray, border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """``crop`` (aligned on its true landmarks) re-aligned as if they had been found at template + ``error``.

    A deployed alignment maps the landmarks it found onto the template, so the crop is warped by the similarity
    estimated from ``TEMPLATE + error`` to ``TEMPLATE``: a landmark at ``p`` lands where that transform sends it.
    The border the warp uncovers is reflected (``cv2.BORDER_REFLECT_101``): a really misaligned crop shows the
    photo there, and a black border would be a cue of the jitter that deployed crops never carry.
    """
    error = np.asarray(error, dtype=np.float64)
    if error.shape != (5, 2) or not np.isfinite(error).all():
        raise ValueError(f"error must be a finite 5 x 2 array of landmark offsets in crop pixels (one draw()), got shape {error.shape}")
    transform = SimilarityTransform.from_estimate(TEMPLATE + error, TEMPLATE)
    if not transform:
        raise ValueError(f"no similarity maps the template + error onto the template ({transform}); the error collapses the landmarks")
    return cv2.warpAffine(crop, transform.params[:2], (crop.shape[1], crop.shape[0]), flags=cv2.INTER_LINEAR, borderMode=border)
