"""End-to-end acquisition: degrade the whole photo, then detect and align on what is left, as a deployed system would.

The oracle mode (:mod:`helpers.data.levels`) degrades the aligned crop, so its
landmarks always come from the HQ photo. Here a level is applied to the source
photo instead, scaled so the face lands at the level's resolution (the face scale
is the HQ alignment's, :func:`face_scale`); the degraded photo is brought back to
its own size with bicubic interpolation (the detector's upscaling policy: it sees
the photo at its original canvas size, at an input sized to the photo), the
detector runs on it, and the crop is aligned on the landmarks it found there.

A failure to acquire is never dropped: no face found (``no_face``), or a face
that is not the HQ one (``other_face``: box overlap with the HQ detection below
``min_iou``), or no HQ face to compare with (``no_reference``). Every outcome is
one row of ``acquisition.csv``; :mod:`helpers.evaluation.verification` scores a
pair with a failed side below every similarity, so it counts in FNMR as NIST
counts a failure to enrol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from insightface.utils.face_align import arcface_dst
from skimage.transform import SimilarityTransform

from helpers.core.cache import JsonlCache
from helpers.core.files import path_inside, write_csv_atomic, write_json_atomic, write_png_atomic
from helpers.core.progress import progress
from helpers.data.chains import CHAIN_LIBRARY
from helpers.data.crops import detector_tag
from helpers.data.degrade import Degradation, degrade_image, image_seed
from helpers.data.faces import Detector, align
from helpers.data.levels import LevelSet, level_folder
from helpers.data.manifest import LANDMARKS, OK
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb

ACQUISITION, ACQUISITION_SETTINGS = "acquisition.csv", "acquisition.json"
E2E_FOLDER = "lq-e2e"
ACQUISITION_COLUMNS = ["path", "level", "status", "iou", "lq_path"]
ACQUIRED, NO_FACE, OTHER_FACE, NO_REFERENCE = "acquired", "no_face", "other_face", "no_reference"
FAILURES = (NO_FACE, OTHER_FACE, NO_REFERENCE)
MIN_IOU = 0.5
"""A face found on the degraded photo is the HQ face when its box overlaps the HQ box by at least this IoU (PASCAL's rule)."""
UPSCALING = "the degraded photo is resized back to its original size (bicubic), then detected at an input sized to the photo"


def face_scale(kps: np.ndarray) -> float:
    """Crop pixels per photo pixel of the HQ alignment: a level at ``r`` px samples the photo at ``scale * r / 112``."""
    transform = SimilarityTransform.from_estimate(np.asarray(kps, dtype=np.float64).reshape(5, 2), arcface_dst)
    return float(transform.scale)


def box_iou(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    ax1, ay1, ax2, ay2 = (float(v) for v in a[:4])
    bx1, by1, bx2, by2 = (float(v) for v in b[:4])
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Acquisition:
    """What the detector made of one degraded photo: ``status``, overlap with the HQ box, and the aligned crop when acquired."""

    status: str
    iou: float | None
    crop: np.ndarray | None = None


def acquire(
    photo_rgb: np.ndarray, bbox: np.ndarray, kps: np.ndarray, level: Degradation, seed: int, detector: Detector, min_iou: float = MIN_IOU
) -> Acquisition:
    """Degrade ``photo_rgb`` at ``level`` (face scaled from the HQ keypoints ``kps``), detect, check it is the HQ face, align."""
    degraded = degrade_image(photo_rgb, level, seed, face_scale(kps))
    found = detector.detect(degraded)
    if found is None:
        return Acquisition(NO_FACE, None)
    iou = box_iou(found.bbox, bbox)
    if iou < min_iou:
        return Acquisition(OTHER_FACE, iou)
    return Acquisition(ACQUIRED, iou, align(degraded, found.kps))


def _numbers(text: str) -> np.ndarray:
    return np.array([float(v) for v in str(text).split()], dtype=np.float64)


def _item_key(sha256: str, level: Degradation, seed: int, min_iou: float) -> str:
    return f"{sha256}:{image_seed(sha256, level, seed):016x}:{min_iou}"


def acquire_levels(
    manifest: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    levels: LevelSet,
    detector: Detector,
    splits: tuple[str, ...] = ("val", "test"),
    min_iou: float = MIN_IOU,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> pd.DataFrame:
    """Every level of every usable image of ``splits``, acquired end to end; one row per (image, level), failures included.

    Outcomes are cached per (content hash, level, seed, detector) in one JSON line each and crops are
    written atomically under ``lq-e2e/<detector>/<level>/``, so a killed run resumes where it stopped.
    Writes ``acquisition.csv`` and ``acquisition.json`` (the settings) into the processed folder.
    """
    root, processed = Path(dataset_root), Path(processed_dir).resolve()
    cache = JsonlCache(processed / ".cache" / f"acquire-{detector.cache_key()}.jsonl")
    tag = detector_tag(detector)
    rows = manifest[(manifest["status"] == OK) & manifest["split"].isin(splits) & (manifest["crop_path"] != "")]
    records = []
    for _, row in progress(list(rows.iterrows()), "degrade photo, detect, align"):
        photo = None
        for level in levels.levels:
            target = path_inside(processed, E2E_FOLDER, tag, level_folder(level, levels.seed), row["identity"], Path(row["crop_path"]).name)
            key = _item_key(row["sha256"], level, levels.seed, min_iou)
            outcome = cache.get(key)
            if outcome is None or (outcome["status"] == ACQUIRED and not target.exists()):
                photo = load_rgb(root / row["path"], max_megapixels) if photo is None else photo
                outcome = _acquire_row(photo, row, level, levels.seed, detector, min_iou, target)
                cache.put(key, outcome)
            lq_path = target.relative_to(processed).as_posix() if outcome["status"] == ACQUIRED else ""
            records.append({"path": row["path"], "level": level.name, "status": outcome["status"], "iou": outcome["iou"], "lq_path": lq_path})
    table = pd.DataFrame(records, columns=ACQUISITION_COLUMNS)
    write_csv_atomic(processed / ACQUISITION, table)
    write_json_atomic(processed / ACQUISITION_SETTINGS, settings(detector, min_iou, splits))
    return table


def _acquire_row(photo: np.ndarray, row: pd.Series, level: Degradation, seed: int, detector: Detector, min_iou: float, target: Path) -> dict[str, Any]:
    """One image at one level: the outcome record (status, iou), the crop written when acquired."""
    if row["crop_method"] != LANDMARKS:
        return {"status": NO_REFERENCE, "iou": None}
    found = acquire(photo, _numbers(row["bbox"]), _numbers(row["kps"]), level, image_seed(row["sha256"], level, seed), detector, min_iou)
    if found.crop is not None:
        write_png_atomic(target, found.crop)
    return {"status": found.status, "iou": None if found.iou is None else round(found.iou, 4)}


def settings(detector: Detector, min_iou: float, splits: tuple[str, ...]) -> dict[str, Any]:
    """What decides the end-to-end crops: detector, input size, overlap rule, upscaling policy, the chain library."""
    return {
        "detector": detector.cache_key(),
        "detector_file": detector.model.name,
        "input_size": detector.input_size,
        "threshold": detector.threshold,
        "min_iou": min_iou,
        "upscaling": UPSCALING,
        "splits": list(splits),
        "chain_library": CHAIN_LIBRARY,
    }


def load_acquisition(processed_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """``acquisition.csv`` and its settings, or None when notebook 01 ran without the end-to-end mode."""
    table, meta = Path(processed_dir) / ACQUISITION, Path(processed_dir) / ACQUISITION_SETTINGS
    if not table.is_file() or not meta.is_file():
        return None
    frame = pd.read_csv(table, dtype={"path": str, "level": str, "status": str, "lq_path": str}, keep_default_na=False)
    return frame, json.loads(meta.read_text(encoding="utf-8"))


def failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per level: images tried, acquired, each kind of failure, and the failure-to-acquire rate."""
    counts = pd.crosstab(table["level"], table["status"]).reindex(columns=[ACQUIRED, *FAILURES], fill_value=0)
    counts.insert(0, "images", counts.sum(axis=1))
    counts["fta_rate"] = 1 - counts[ACQUIRED] / counts["images"]
    return counts.reindex(list(dict.fromkeys(table["level"])))
