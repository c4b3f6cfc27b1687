"""Notebook 01's steps: scan, split, detect and align, synthesise low quality, save the manifest.

Each step takes and returns the manifest (one row per source file) so the
notebook can show what every step did. Work is keyed by content hash and
checkpointed as it goes: a re-run, or a run resumed after a crash, redoes
nothing that is already on disk and gives identical outputs.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.cache import JsonlCache
from helpers.degrade import Degradation, degrade, image_seed
from helpers.faces import FaceDetector, align, centre_crop
from helpers.files import path_inside, read_png_rgb, safe_component, write_csv_atomic, write_json_atomic, write_png_atomic
from helpers.progress import progress
from helpers.scan import OK, load_rgb, scan_dataset

NO_FACE = "no_face"
POLICIES = ("exclude", "centre_crop")
LANDMARKS = "landmarks"
CENTRE_CROP = "centre_crop"
MANIFEST = "manifest.csv"
LEVELS = "levels.json"
SOURCE = "source.json"
DETECTION_COLUMNS = ["n_faces", "det_score", "bbox", "kps", "det_padded", "crop_method", "crop_path"]


def scan(dataset_root: Path, processed_dir: Path) -> pd.DataFrame:
    """Step 1: decode and validate every file (decode results cached by content hash)."""
    return scan_dataset(dataset_root, JsonlCache(Path(processed_dir) / ".cache" / "scan.jsonl"))


def _crop_name(row: pd.Series, method: str) -> str:
    suffix = "" if method == LANDMARKS else f"-{method}"
    return f"{safe_component(Path(row['path']).name)}-{row['sha256'][:8]}{suffix}.png"


def detector_tag(detector: FaceDetector) -> str:
    """Folder name that ties aligned crops to the detector and threshold that made them."""
    return safe_component(f"{detector.model.name.removesuffix('.onnx')}-{detector.model.sha256[:8]}-t{detector.threshold}")


def detect_and_align(
    manifest: pd.DataFrame,
    dataset_root: Path,
    processed_dir: Path,
    detector: FaceDetector,
    no_face_policy: str = "exclude",
) -> pd.DataFrame:
    """Step 3: find the primary face of every selected image and align it to 112x112.

    Images with no face are never dropped silently: with ``exclude`` they get
    status ``no_face``; with ``centre_crop`` they keep status ``ok`` but their
    crop is a flagged, unaligned centre crop (``crop_method``).
    """
    if no_face_policy not in POLICIES:
        raise ValueError(f"no_face_policy must be one of {POLICIES}, got {no_face_policy!r}")
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
            image = load_rgb(root / row["path"])
            found = detector.detect(image)
            face = None if found is None else asdict(found)
        method = LANDMARKS if face is not None else CENTRE_CROP
        crop_file = path_inside(processed, "aligned", tag, row["identity"], _crop_name(row, method))
        if (face is not None or no_face_policy == CENTRE_CROP) and not crop_file.exists():
            image = load_rgb(root / row["path"]) if image is None else image
            write_png_atomic(crop_file, centre_crop(image) if face is None else align(image, face["kps"]))
        if row["sha256"] not in cache:
            cache.put(row["sha256"], face)
        out.loc[index, DETECTION_COLUMNS] = _detection_fields(face, crop_file.relative_to(processed), no_face_policy)
        if face is None and no_face_policy == "exclude":
            out.loc[index, ["status", "reason"]] = [NO_FACE, f"no face found above detection threshold {detector.threshold}"]
        elif face is None:
            out.loc[index, "reason"] = "no face found: flagged centre crop used instead of an aligned face"
    return out


def _detection_fields(face: dict | None, crop: Path, policy: str) -> list:
    if face is None:
        return [0, "", "", "", "", CENTRE_CROP if policy == CENTRE_CROP else "", crop.as_posix() if policy == CENTRE_CROP else ""]
    return [
        face["n_faces"],
        round(face["score"], 4),
        " ".join(f"{v:.1f}" for v in face["bbox"]),
        " ".join(f"{v:.2f}" for v in face["kps"]),
        int(face["padded"]),
        LANDMARKS,
        crop.as_posix(),
    ]


def level_folder(level: Degradation) -> str:
    """Folder of a level's images: its name plus a hash of its parameters, so edits never mix."""
    digest = image_seed("", level, 0) % 16**6
    return safe_component(f"{level.name}-{digest:06x}")


def synthesise_lq(
    manifest: pd.DataFrame,
    processed_dir: Path,
    levels: list[Degradation],
    seed: int,
    splits: tuple[str, ...] = ("val", "test"),
) -> pd.DataFrame:
    """Step 4: write every level of every usable evaluation-split crop; returns one row per LQ image."""
    processed_dir = Path(processed_dir).resolve()
    rows = manifest[(manifest["status"] == OK) & manifest["split"].isin(splits) & (manifest["crop_path"] != "")]
    records = []
    for _, row in progress(list(rows.iterrows()), "low-quality levels"):
        crop = None
        for level in levels:
            target = path_inside(processed_dir, "lq", level_folder(level), row["identity"], Path(row["crop_path"]).name)
            if not target.exists():
                crop = read_png_rgb(processed_dir / row["crop_path"]) if crop is None else crop
                write_png_atomic(target, degrade(crop, level, image_seed(row["sha256"], level, seed)))
            records.append({"path": row["path"], "level": level.name, "lq_path": target.relative_to(processed_dir).as_posix()})
    write_json_atomic(processed_dir / LEVELS, {"seed": seed, "levels": {lv.name: {**lv.spec(), "folder": f"lq/{level_folder(lv)}"} for lv in levels}})
    return pd.DataFrame(records, columns=["path", "level", "lq_path"])


def save_manifest(manifest: pd.DataFrame, processed_dir: Path) -> Path:
    """Step 5: write ``manifest.csv`` atomically and return its path."""
    target = Path(processed_dir) / MANIFEST
    write_csv_atomic(target, manifest)
    return target


def save_source(processed_dir: Path, dataset: str, root: Path, detector: str) -> None:
    """Record which dataset and detector produced this processed folder (read by later notebooks)."""
    write_json_atomic(Path(processed_dir) / SOURCE, {"dataset": str(dataset), "root": str(Path(root).resolve()), "detector": detector})


def load_source(processed_dir: Path) -> dict:
    """What :func:`save_source` recorded."""
    return json.loads((Path(processed_dir) / SOURCE).read_text(encoding="utf-8"))


def load_levels(processed_dir: Path) -> tuple[list[Degradation], int]:
    """The low-quality levels and seed notebook 01 used."""
    data = json.loads((Path(processed_dir) / LEVELS).read_text(encoding="utf-8"))
    levels = [Degradation(**{k: v for k, v in spec.items() if k != "folder"}) for spec in data["levels"].values()]
    return levels, int(data["seed"])


def load_manifest(processed_dir: Path) -> pd.DataFrame:
    """Read a manifest written by :func:`save_manifest` (empty fields stay empty strings)."""
    path = Path(processed_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 with processed_dir={processed_dir} first")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def status_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Files per split (rows) and status (columns), with totals: every file accounted for."""
    table = pd.crosstab(manifest["split"].replace("", "(none)"), manifest["status"], margins=True, margins_name="total")
    return table.rename_axis(index="split", columns="status")


def split_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Identities and usable images per split, labelled with the split protocol."""
    usable = manifest[manifest["status"] == OK]
    table = usable.groupby("split").agg(identities=("identity", "nunique"), images=("path", "size"))
    table["protocol"] = manifest["protocol"].iloc[0] if len(manifest) else ""
    return table


def save_run_summary(run_dir: Path, manifest: pd.DataFrame, lq: pd.DataFrame, settings: dict) -> None:
    """Counts and settings of this step as JSON and CSV under the run folder."""
    run_dir = Path(run_dir)
    counts = status_counts(manifest)
    write_csv_atomic(run_dir / "status_counts.csv", counts.reset_index())
    write_csv_atomic(run_dir / "split_summary.csv", split_summary(manifest).reset_index())
    summary = {
        "settings": settings,
        "files": int(len(manifest)),
        "by_status": {k: int(v) for k, v in manifest["status"].value_counts().items()},
        "lq_images": int(len(lq)),
        "protocol": manifest["protocol"].iloc[0] if len(manifest) else "",
    }
    write_json_atomic(run_dir / "prepare_summary.json", json.loads(json.dumps(summary, default=str)))


def montage_rows(manifest: pd.DataFrame, processed_dir: Path, lq: pd.DataFrame, n: int = 6, seed: int = 0) -> tuple[list[str], list[list[np.ndarray]]]:
    """Level names and, for ``n`` seeded test images, their HQ crop followed by every LQ level."""
    with_lq = lq["path"].drop_duplicates()
    picks = with_lq.sample(min(n, len(with_lq)), random_state=seed) if len(with_lq) else with_lq
    levels = list(dict.fromkeys(lq["level"]))
    crops = manifest.set_index("path")["crop_path"]
    grid = []
    for path in picks:
        images = lq[lq["path"] == path].set_index("level")["lq_path"]
        grid.append([read_png_rgb(Path(processed_dir) / crops[path])] + [read_png_rgb(Path(processed_dir) / images[lv]) for lv in levels])
    return ["HQ (112 px)", *levels], grid
