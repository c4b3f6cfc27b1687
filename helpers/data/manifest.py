"""The processed folder's tables: ``manifest.csv`` (one row per source file) and ``source.json``.

This module is the one definition of both formats: file names, columns, every
status and crop method a row can carry, and how they are read and written.
Notebook 01 writes them; every later step reads them through here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic

MANIFEST = "manifest.csv"
SOURCE = "source.json"

# Statuses: ``ok`` or why a file is left out (scan, split, detection, in that order).
OK = "ok"
EMPTY = "empty"
NOT_IMAGE = "not_image"
CORRUPT = "corrupt"
DUPLICATE = "duplicate"
MARKED_BAD = "marked_bad"
NO_IDENTITY = "no_identity"
UNREADABLE = "unreadable"
NOT_REGULAR_FILE = "not_regular_file"
DANGLING_SYMLINK = "dangling_symlink"
SYMLINK_LOOP = "symlink_loop"
SYMLINK_OUTSIDE = "symlink_outside"
BAD_FILENAME_ENCODING = "bad_filename_encoding"
TOO_LARGE = "too_large"
TOO_FEW_IMAGES = "too_few_images"
NOT_SELECTED = "not_selected"
NO_FACE = "no_face"

# How a row's crop was made.
LANDMARKS = "landmarks"
CENTRE_CROP = "centre_crop"

# Split protocols, written in the ``protocol`` column and every report.
OPEN_SET = "open-set: identity-disjoint splits"
CLOSED_SET = "closed-set: same people in every split, disjoint images"


def row_numbers(text: str) -> np.ndarray:
    """A manifest row's ``bbox`` or ``kps`` field (space-separated numbers, written by notebook 01) as float64."""
    return np.array([float(v) for v in str(text).split()], dtype=np.float64)


SCAN_COLUMNS = ["path", "identity", "sha256", "bytes", "status", "reason", "width", "height", "conversions"]
SPLIT_COLUMNS = ["split", "protocol"]
DETECTION_COLUMNS = ["n_faces", "det_score", "bbox", "kps", "det_padded", "crop_method", "crop_path"]
COLUMNS = SCAN_COLUMNS + SPLIT_COLUMNS + DETECTION_COLUMNS
"""Every column of ``manifest.csv``, in file order: scan, then split, then detection."""


def save_manifest(manifest: pd.DataFrame, processed_dir: Path) -> Path:
    """Write ``manifest.csv`` (exactly :data:`COLUMNS`, in order) atomically and return its path."""
    if missing := [column for column in COLUMNS if column not in manifest.columns]:
        raise ValueError(f"the manifest lacks {missing}: scan, split, and detect and align it before saving")
    target = Path(processed_dir) / MANIFEST
    write_csv_atomic(target, manifest[COLUMNS])
    return target


def load_manifest(processed_dir: Path) -> pd.DataFrame:
    """Read ``manifest.csv`` (every field a string; empty fields stay empty strings)."""
    path = Path(processed_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 with processed_dir={processed_dir} first")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def usable_images(manifest: pd.DataFrame) -> pd.DataFrame:
    """Usable images that have a crop, of every split (``image_id`` = source path)."""
    rows = manifest[(manifest["status"] == OK) & (manifest["crop_path"] != "")]
    return rows.assign(image_id=rows["path"])


def split_images(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """Usable images of one split that have a crop (``image_id`` = source path)."""
    rows = usable_images(manifest)
    return rows[rows["split"] == split]


def protocol_of(manifest: pd.DataFrame) -> str:
    """The split protocol label the manifest was made under (``""`` for an empty manifest)."""
    return str(manifest["protocol"].iloc[0]) if len(manifest) else ""


@dataclass(frozen=True)
class Source:
    """What produced a processed folder: the dataset as named, its image root, and the detector used."""

    dataset: str
    root: str
    detector: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        return cls(str(data["dataset"]), str(data["root"]), str(data["detector"]))


def save_source(processed_dir: Path, source: Source) -> None:
    """Write ``source.json`` (read by later notebooks)."""
    write_json_atomic(Path(processed_dir) / SOURCE, source.to_json())


def load_source(processed_dir: Path) -> Source:
    """What :func:`save_source` recorded."""
    return Source.from_json(json.loads((Path(processed_dir) / SOURCE).read_text(encoding="utf-8")))
