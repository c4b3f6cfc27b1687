"""End-to-end acquisition: degrade the whole photo, then detect and align on what is left, as a deployed system would.

The oracle mode (:mod:`helpers.data.levels`) degrades the aligned crop, so its
landmarks always come from the HQ photo. Here a level is applied to the source
photo instead, sampled so the face lands at the level's resolution (HQ geometry
chooses how strongly to degrade, :func:`face_scale`, and nothing else). The
degraded photo keeps its degraded pixel size; the detector sees it under one
declared, image-independent policy (:func:`parse_policy`: ``native``, the photo as
it is padded to the detector's stride, or ``fit:<size>``, resized into the
detector's square as InsightFace's ``det_size`` does), picks the primary face by
the same rule as on HQ photos, and the crop is aligned on the landmarks it found. The detector's confidence and the eye distance in the photo
it saw are recorded with each acquired face: two of the face image quality measures (:mod:`helpers.quality`).

No HQ information gates the outcome: whatever face the detector picks is aligned
and scored. Its box overlap with the HQ face is kept as a diagnostic
(``wrong_face``: IoU below :data:`WRONG_FACE_IOU`), never a filter. A failure to
acquire is never dropped: no face found (``no_face``), or no HQ face to scale the
level by (``no_reference``). Every outcome is one row of ``acquisition.csv``;
:mod:`helpers.evaluation.verification` scores a pair with a failed side
:data:`~helpers.evaluation.metrics.FAILED_SCORE`: a rejection for a genuine pair, and
outside every impostor denominator.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
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
from helpers.data.degrade import DEGRADE_VERSION, Degradation, degrade_photo, image_seed
from helpers.data.faces import INPUT_STRIDE, MIN_INPUT, NATIVE, NATIVE_MAX_SIDE, Detector, align
from helpers.data.levels import LevelSet, level_folder
from helpers.data.manifest import LANDMARKS, OK, row_numbers
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb

ACQUISITION, ACQUISITION_SETTINGS = "acquisition.csv", "acquisition.json"
ACQUIRE_VERSION = 3
"""Bump when what a degraded photo, its crop or its outcome record is: crop folders and cached outcomes carry it, so none
is reused (2: the degraded photo keeps its size; 3: outcomes record the detector's confidence and the eye distance)."""
E2E_FOLDER = f"lq-e2e-v{ACQUIRE_VERSION}"
ACQUISITION_COLUMNS = ["path", "level", "status", "iou", "wrong_face", "det_score", "eye_distance", "lq_path"]
ACQUIRED, NO_FACE, NO_REFERENCE = "acquired", "no_face", "no_reference"
FAILURES = (NO_FACE, NO_REFERENCE)
WRONG_FACE_IOU = 0.5
"""A face acquired on the degraded photo is counted (never filtered) as the wrong face when its box overlaps the HQ box by less (PASCAL's rule)."""
FIT = "fit"
DEFAULT_POLICY = f"{FIT}:640"
"""InsightFace's own ``det_size``: what ``FaceAnalysis`` does with its defaults (docs/protocol.md#detector-policy says why)."""
HQ_INFORMATION = "none: HQ geometry sets how strongly the photo is degraded; the degraded photo keeps its size and nothing from HQ reaches the detector"


def parse_policy(policy: str) -> int | None:
    """The detector input size of a policy: ``native`` -> None (the photo as it is, padded to the stride), ``fit:<size>`` -> size."""
    if policy == NATIVE:
        return None
    name, _, size = str(policy).partition(":")
    if name == FIT and size.isdigit() and int(size) >= MIN_INPUT and int(size) % INPUT_STRIDE == 0:
        return int(size)
    raise ValueError(
        f"detector policy {policy!r} is neither {NATIVE!r} (the photo as it is, padded to the detector's stride) nor "
        f"'{FIT}:<size>' with a size a multiple of {INPUT_STRIDE} of at least {MIN_INPUT} (e.g. 'fit:640', InsightFace's det_size)"
    )


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
    """What the detector made of one degraded photo: ``status``, overlap of its pick with the HQ box (a diagnostic), and when
    acquired the aligned crop, the detector's confidence and the distance between the eyes in the degraded photo's pixels."""

    status: str
    iou: float | None
    crop: np.ndarray | None = None
    score: float | None = None
    eye_distance: float | None = None

    @property
    def wrong_face(self) -> bool:
        """Whether the face acquired is not the HQ one (IoU below :data:`WRONG_FACE_IOU`); it is scored all the same."""
        return self.status == ACQUIRED and self.iou is not None and self.iou < WRONG_FACE_IOU


def acquire(photo_rgb: np.ndarray, hq_bbox: np.ndarray, kps: np.ndarray, level: Degradation, seed: int, detector: Detector) -> Acquisition:
    """Degrade ``photo_rgb`` at ``level`` (face scale from the HQ keypoints ``kps``), detect on the degraded photo alone, align.

    ``hq_bbox`` only measures the diagnostic overlap, in the photo's coordinates.
    """
    degraded = degrade_photo(photo_rgb, level, seed, face_scale(kps))
    found = detector.detect(degraded)
    if found is None:
        return Acquisition(NO_FACE, None)
    ratio = np.tile([photo_rgb.shape[1] / degraded.shape[1], photo_rgb.shape[0] / degraded.shape[0]], 2)
    eyes = np.asarray(found.kps, dtype=float).reshape(5, 2)[:2]
    iou = box_iou(np.asarray(found.bbox) * ratio, hq_bbox)
    return Acquisition(ACQUIRED, iou, align(degraded, found.kps), float(found.score), float(np.linalg.norm(eyes[1] - eyes[0])))


def _item_key(sha256: str, level: Degradation, seed: int) -> str:
    return f"{sha256}:{image_seed(sha256, level, seed):016x}:v{ACQUIRE_VERSION}.{DEGRADE_VERSION}"


def policy_of(detector: Detector) -> str:
    """The detector policy a detector runs: ``native`` or ``fit:<size>``."""
    return NATIVE if detector.input_size is None else f"{FIT}:{detector.input_size}"


def acquire_levels(
    manifest: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    levels: LevelSet,
    detector: Detector,
    splits: tuple[str, ...] = ("val", "test"),
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    only: Mapping[str, Collection[str]] | None = None,
) -> pd.DataFrame:
    """Every level of every usable image of ``splits``, acquired end to end; one row per (image, level), failures included.

    ``only`` narrows a split to the levels it names (notebook 01: val at the primary endpoint's levels alone,
    the only ones val is scored at end to end); a split it does not name gets every level.

    Outcomes are cached per (content hash, level, seed, detector and its policy, :data:`ACQUIRE_VERSION`) in one
    JSON line each and crops are written atomically under ``lq-e2e-v<version>/<detector>/<level>/``, so a killed
    run resumes where it stopped. Writes ``acquisition.csv`` and ``acquisition.json`` (the settings) into the processed folder.
    """
    root, processed = Path(dataset_root), Path(processed_dir).resolve()
    cache = JsonlCache(processed / ".cache" / f"acquire-{detector.cache_key()}.jsonl")
    tag = detector_tag(detector)
    rows = manifest[(manifest["status"] == OK) & manifest["split"].isin(splits) & (manifest["crop_path"] != "")]
    records = []
    chosen = {split: [level for level in levels.levels if only is None or split not in only or level.name in only[split]] for split in splits}
    for _, row in progress(list(rows.iterrows()), "degrade photo, detect, align"):
        photo = None
        for level in chosen[row["split"]]:
            target = path_inside(processed, E2E_FOLDER, tag, level_folder(level, levels.seed), row["identity"], Path(row["crop_path"]).name)
            key = _item_key(row["sha256"], level, levels.seed)
            outcome = cache.get(key)
            if outcome is None or (outcome["status"] == ACQUIRED and not target.exists()):
                photo = load_rgb(root / row["path"], max_megapixels) if photo is None else photo
                outcome = _acquire_row(photo, row, level, levels.seed, detector, target)
                cache.put(key, outcome)
            lq_path = target.relative_to(processed).as_posix() if outcome["status"] == ACQUIRED else ""
            records.append({"path": row["path"], "level": level.name, **outcome, "lq_path": lq_path})
    table = pd.DataFrame(records, columns=ACQUISITION_COLUMNS)
    write_csv_atomic(processed / ACQUISITION, table)
    write_json_atomic(processed / ACQUISITION_SETTINGS, settings(detector, {split: [level.name for level in found] for split, found in chosen.items()}))
    return table


def _acquire_row(photo: np.ndarray, row: pd.Series, level: Degradation, seed: int, detector: Detector, target: Path) -> dict[str, Any]:
    """One image at one level: the outcome record (status, iou, wrong_face), the crop written when acquired."""
    if row["crop_method"] != LANDMARKS:
        return {"status": NO_REFERENCE, "iou": None, "wrong_face": False, "det_score": None, "eye_distance": None}
    found = acquire(photo, row_numbers(row["bbox"]), row_numbers(row["kps"]), level, image_seed(row["sha256"], level, seed), detector)
    if found.crop is not None:
        write_png_atomic(target, found.crop)
    rounded = {"iou": found.iou, "det_score": found.score, "eye_distance": found.eye_distance}
    return {"status": found.status, "wrong_face": found.wrong_face} | {key: None if value is None else round(value, 4) for key, value in rounded.items()}


def settings(detector: Detector, splits: Mapping[str, list[str]]) -> dict[str, Any]:
    """What decides the end-to-end crops: detector, its policy and input, the HQ information used (none), the chain library."""
    return {
        "detector": detector.cache_key(),
        "detector_file": detector.model.name,
        "policy": policy_of(detector),
        "input_size": detector.input_size,
        "native_max_side": NATIVE_MAX_SIDE,
        "threshold": detector.threshold,
        "hq_information": HQ_INFORMATION,
        "wrong_face_iou": WRONG_FACE_IOU,
        "acquire_version": ACQUIRE_VERSION,
        "splits": dict(splits),
        "chain_library": CHAIN_LIBRARY,
    }


def load_acquisition(processed_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """``acquisition.csv`` and its settings, or None when notebook 01 ran without the end-to-end mode."""
    table, meta = Path(processed_dir) / ACQUISITION, Path(processed_dir) / ACQUISITION_SETTINGS
    if not table.is_file() or not meta.is_file():
        return None
    recorded = json.loads(meta.read_text(encoding="utf-8"))
    if recorded.get("acquire_version") != ACQUIRE_VERSION:
        raise ValueError(
            f"{table} was written by an earlier end-to-end acquisition (version {recorded.get('acquire_version', 1)}; this is version "
            f"{ACQUIRE_VERSION}, whose crops or records differ): rerun notebook 01"
        )
    frame = pd.read_csv(table, dtype={"path": str, "level": str, "status": str, "wrong_face": bool, "lq_path": str}, keep_default_na=False)
    for column in ("det_score", "eye_distance"):  # empty where no face was acquired
        frame[column] = frame[column].replace("", np.nan).astype(float)
    return frame, recorded


def failure_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per level: images tried, acquired, each kind of failure, the failure-to-acquire rate, and the acquired faces
    that are not the HQ one (``wrong_face``, scored all the same) with their share of the acquired."""
    counts = pd.crosstab(table["level"], table["status"]).reindex(columns=[ACQUIRED, *FAILURES], fill_value=0)
    counts.insert(0, "images", counts.sum(axis=1))
    counts["fta_rate"] = 1 - counts[ACQUIRED] / counts["images"]
    counts["wrong_face"] = table.groupby("level")["wrong_face"].sum().reindex(counts.index).astype(int)
    counts["wrong_face_rate"] = (counts["wrong_face"] / counts[ACQUIRED]).where(counts[ACQUIRED] > 0)
    return counts.reindex(list(dict.fromkeys(table["level"])))
