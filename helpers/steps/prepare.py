"""Notebook 01's step: scan, split, align and degrade a dataset, then account for every file.

The work itself lives in :mod:`helpers.data`; this module adds what the notebook
shows and saves about it: counts per split and status, a montage, and the run summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.cache import JsonlCache
from helpers.core.files import read_png_rgb, write_csv_atomic, write_json_atomic
from helpers.data.faces import CROP_SIZE
from helpers.data.levels import LevelSet
from helpers.data.manifest import OK, protocol_of
from helpers.data.scan import DEFAULT_MAX_MEGAPIXELS, scan_dataset

STATUS_COUNTS, SPLIT_SUMMARY, RUN_SUMMARY = "status_counts.csv", "split_summary.csv", "prepare_summary.json"


def scan(dataset_root: Path, processed_dir: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, follow_external_symlinks: bool = False) -> pd.DataFrame:
    """Decode and validate every file (decode results cached by content hash under the processed folder)."""
    cache = JsonlCache(Path(processed_dir) / ".cache" / "scan.jsonl")
    return scan_dataset(dataset_root, cache, max_megapixels=max_megapixels, follow_external_symlinks=follow_external_symlinks)


def status_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Files per split (rows) and status (columns), with totals: every file accounted for."""
    table = pd.crosstab(manifest["split"].replace("", "(none)"), manifest["status"], margins=True, margins_name="total")
    return table.rename_axis(index="split", columns="status")


def split_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Identities and usable images per split, labelled with the split protocol."""
    usable = manifest[manifest["status"] == OK]
    table = usable.groupby("split").agg(identities=("identity", "nunique"), images=("path", "size"))
    table["protocol"] = protocol_of(manifest)
    return table


def save_run_summary(run_dir: Path, manifest: pd.DataFrame, lq: pd.DataFrame, settings: dict, warnings: list[str]) -> None:
    """Counts, people per split, settings and warnings of this step as JSON and CSV under the run folder."""
    run_dir = Path(run_dir)
    write_csv_atomic(run_dir / STATUS_COUNTS, status_counts(manifest).reset_index())
    write_csv_atomic(run_dir / SPLIT_SUMMARY, split_summary(manifest).reset_index())
    summary = {
        "settings": settings,
        "files": len(manifest),
        "by_status": {k: int(v) for k, v in manifest["status"].value_counts().items()},
        "lq_images": len(lq),
        "people_per_split": {split: int(row["identities"]) for split, row in split_summary(manifest).iterrows()},
        "protocol": protocol_of(manifest),
        "warnings": warnings,
    }
    write_json_atomic(run_dir / RUN_SUMMARY, json.loads(json.dumps(summary, default=str)))


NOT_ACQUIRED_RGB = (170, 30, 30)
"""The montage tile of an end-to-end face that was not acquired."""


def montage_groups(levels: LevelSet) -> dict[str, list[str]]:
    """Level names per montage: ``montage`` the levels that lower resolution, ``montage_sweeps`` the full-resolution sweeps."""
    groups = {
        "montage": [lv.name for lv in levels.levels if lv.resolution < CROP_SIZE],
        "montage_sweeps": [lv.name for lv in levels.levels if lv.resolution == CROP_SIZE],
    }
    return {name: names for name, names in groups.items() if names}


def _crop_or_marker(processed_dir: Path, lq_path: str) -> np.ndarray:
    """The crop at ``lq_path``, or a plain red square where no face was acquired (a dark face is never mistaken for one)."""
    return read_png_rgb(Path(processed_dir) / lq_path) if lq_path else np.full((CROP_SIZE, CROP_SIZE, 3), NOT_ACQUIRED_RGB, dtype=np.uint8)


def montage_rows(
    manifest: pd.DataFrame, processed_dir: Path, lq: pd.DataFrame, levels: list[str], n: int = 6, seed: int = 0
) -> tuple[list[str], list[list[np.ndarray]]]:
    """Level names and, for ``n`` seeded images with every one of ``levels`` present, their HQ crop followed by each level.

    ``lq`` is a table of (path, level, lq_path): the oracle images of :func:`~helpers.data.levels.synthesise_lq`
    or the end-to-end crops of ``acquisition.csv`` (val photos only at the primary's levels), where an empty
    ``lq_path`` (not acquired) shows a red square.
    """
    lq = lq[lq["level"].isin(levels)]
    levels = list(dict.fromkeys(lq["level"]))
    per_image = lq.groupby("path", sort=False)["level"].nunique()
    with_lq = pd.Series(per_image.index[per_image == len(levels)])
    picks = with_lq.sample(min(n, len(with_lq)), random_state=seed) if len(with_lq) else with_lq
    crops = manifest.set_index("path")["crop_path"]
    grid = []
    for path in picks:
        images = lq[lq["path"] == path].set_index("level")["lq_path"]
        grid.append([read_png_rgb(Path(processed_dir) / crops[path])] + [_crop_or_marker(processed_dir, images[lv]) for lv in levels])
    return ["HQ (112 px)", *levels], grid
