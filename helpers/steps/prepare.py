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
