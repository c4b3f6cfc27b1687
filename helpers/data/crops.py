"""Aligned 112x112 crops for the rows of a manifest: detect, align, or flag a centre crop.

Detections are cached per image content hash (one JSON line per image, so a
killed run resumes) and crops are written atomically under
``aligned/<detector tag>/<identity>/``; a re-run redoes nothing already on disk.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from helpers.core.cache import JsonlCache
from helpers.core.files import path_inside, safe_component, write_png_atomic
from helpers.core.progress import progress
from helpers.data.faces import DETECTOR_INPUT, Detector, align, centre_crop
from helpers.data.manifest import CENTRE_CROP, DETECTION_COLUMNS, LANDMARKS, NO_FACE, OK
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, load_rgb

EXCLUDE = "exclude"
NO_FACE_POLICIES = (EXCLUDE, CENTRE_CROP)


def detector_tag(detector: Detector) -> str:
    """Folder name that ties aligned crops to the detector file (name, sha256), threshold and input size (when not 640) that made them.

    Only the file's own name is kept (a pack folder's path can be long), cut short so the sha256 and threshold always fit.
    """
    name = safe_component(detector.model.name.rsplit("/", 1)[-1].removesuffix(".onnx"), max_len=40)
    size = "" if detector.input_size == DETECTOR_INPUT else f"-in{detector.input_size or 'native'}"
    return safe_component(f"{name}-{detector.model.sha256[:8]}-t{detector.threshold}{size}")


def _crop_name(row: pd.Series, method: str) -> str:
    suffix = "" if method == LANDMARKS else f"-{method}"
    return f"{safe_component(Path(row['path']).name)}-{row['sha256'][:8]}{suffix}.png"


def detect_and_align(
    manifest: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    detector: Detector,
    no_face_policy: str = EXCLUDE,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> pd.DataFrame:
    """Find the primary face of every selected image and align it to 112x112.

    Images with no face are never dropped silently: with ``exclude`` they get
    status ``no_face``; with ``centre_crop`` they keep status ``ok`` but their
    crop is a flagged, unaligned centre crop (``crop_method``).
    """
    if no_face_policy not in NO_FACE_POLICIES:
        raise ValueError(f"no_face_policy must be one of {NO_FACE_POLICIES}, got {no_face_policy!r}")
    root, processed = Path(dataset_root), Path(processed_dir).resolve()
    cache = JsonlCache(processed / ".cache" / f"detect-{detector.cache_key()}.jsonl")
    tag = detector_tag(detector)
    out = manifest.copy()
    for column in DETECTION_COLUMNS:
        out[column] = pd.Series([""] * len(out), index=out.index, dtype=object)
    todo = out.index[(out["status"] == OK) & (out["split"] != "")]
    for index in progress(todo, "detect + align"):
        row = out.loc[index]
        image = None
        if row["sha256"] in cache:
            face = cache.get(row["sha256"])
        else:
            image = load_rgb(root / row["path"], max_megapixels)
            found = detector.detect(image)
            face = None if found is None else asdict(found)
        method = LANDMARKS if face is not None else CENTRE_CROP
        crop_file = path_inside(processed, "aligned", tag, row["identity"], _crop_name(row, method))
        if (face is not None or no_face_policy == CENTRE_CROP) and not crop_file.exists():
            image = load_rgb(root / row["path"], max_megapixels) if image is None else image
            write_png_atomic(crop_file, centre_crop(image) if face is None else align(image, face["kps"]))
        if row["sha256"] not in cache:
            cache.put(row["sha256"], face)
        out.loc[index, DETECTION_COLUMNS] = _detection_fields(face, crop_file.relative_to(processed), no_face_policy)
        if face is None and no_face_policy == EXCLUDE:
            out.loc[index, ["status", "reason"]] = [NO_FACE, f"no face found above detection threshold {detector.threshold}"]
        elif face is None:
            out.loc[index, "reason"] = "no face found: flagged centre crop used instead of an aligned face"
    return out


def _detection_fields(face: dict | None, crop: Path, policy: str) -> list:
    if face is None:
        kept = policy == CENTRE_CROP
        return [0, "", "", "", "", CENTRE_CROP if kept else "", crop.as_posix() if kept else ""]
    return [
        face["n_faces"],
        round(face["score"], 4),
        " ".join(f"{v:.1f}" for v in face["bbox"]),
        " ".join(f"{v:.2f}" for v in face["kps"]),
        int(face["padded"]),
        LANDMARKS,
        crop.as_posix(),
    ]
