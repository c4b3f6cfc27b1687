"""Notebook 02's steps: embed every split and level once, score the protocols, save the public outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import metrics
from helpers.datasets import lfw_files
from helpers.degrade import HQ, Degradation
from helpers.embeddings import EmbeddingStore, compute_embeddings, embedding_items, recogniser_key
from helpers.faces import FaceDetector
from helpers.files import write_csv_atomic, write_json_atomic
from helpers.pairs import read_lfw_pairs
from helpers.prepare import CENTRE_CROP, NO_FACE, detect_and_align
from helpers.recognition import Recogniser
from helpers.scan import OK
from helpers.split import NOT_SELECTED, TOO_FEW_IMAGES
from helpers.verification import Condition, split_images

LFW_VIEW2 = "lfw_view2"
# Scan statuses that say nothing against the image itself: it can still be aligned for LFW View 2.
_ALIGNABLE = (OK, TOO_FEW_IMAGES, NOT_SELECTED, NO_FACE)


def embedding_store(processed_dir: Path, recogniser: Recogniser, flip: bool) -> EmbeddingStore:
    """The embedding cache of one recogniser setting under the processed folder."""
    return EmbeddingStore(Path(processed_dir) / ".cache" / "embeddings" / recogniser_key(recogniser, flip))


def embed_images(
    images: pd.DataFrame, levels: list[Degradation], seed: int, processed_dir: Path, recogniser: Recogniser, store: EmbeddingStore, flip: bool
) -> int:
    """Embed ``images`` at HQ and every level (cached); returns how many embeddings were computed."""
    all_levels = [HQ, *levels]
    return compute_embeddings(embedding_items(images, all_levels, seed), all_levels, seed, processed_dir, recogniser, store, flip)


def lfw_view2_images(manifest: pd.DataFrame, dataset_root: Path, processed_dir: Path, detector: FaceDetector) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The official View 2 pairs and their aligned images (no-face images kept as flagged centre crops)."""
    pairs = read_lfw_pairs(lfw_files().pairs)
    needed = set(pairs["path_a"]) | set(pairs["path_b"])
    rows = manifest[manifest["path"].isin(needed) & manifest["status"].isin(_ALIGNABLE)]
    if missing := needed - set(rows["path"]):
        raise ValueError(f"{len(missing)} LFW View 2 images are missing from the manifest (e.g. {sorted(missing)[0]}): run notebook 01 on lfw first")
    rows = rows.assign(status=OK, reason="", split=LFW_VIEW2)
    aligned = detect_and_align(rows, dataset_root, processed_dir, detector, no_face_policy=CENTRE_CROP)
    return pairs, split_images(aligned, LFW_VIEW2)


def resolution_table(report: dict, conditions: list[Condition], metric: str, far: str = "1e-03") -> pd.DataFrame:
    """Rows of (series, resolution, value, low, high) for plotting ``metric`` (``auc`` or ``tar``) against face size."""
    rows = []
    for condition in conditions:
        entry = report[condition.name]["auc"] if metric == "auc" else report[condition.name]["tar_at_far"][far]
        low, high = entry["ci"] or (np.nan, np.nan)
        value = np.nan if entry["value"] is None else entry["value"]
        series = ["HQ gallery vs LQ probe", "LQ vs LQ"] if condition.name == "HQ-HQ" else (
            ["HQ gallery vs LQ probe"] if condition.level_a.is_identity else ["LQ vs LQ"])
        rows += [{"series": s, "resolution": condition.resolution, "value": value, "low": low, "high": high} for s in series]
    return pd.DataFrame(rows)


def roc_by_condition(scores: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{condition: (far, tar)}`` for plotting."""
    curves = {}
    for name, group in scores.groupby("condition", sort=False):
        curve = metrics.roc(group["score"], group["same"])
        curves[name] = (curve.far, curve.tar)
    return curves


def summary_table(report: dict) -> pd.DataFrame:
    """One row per condition: AUC, EER, TAR@FAR with CIs, pair counts, detector failures."""
    rows = []
    for name, entry in report.items():
        row = {"condition": name, "pairs": entry["n_pairs"], "genuine": entry["n_genuine"], "impostor": entry["n_impostor"]}
        for key in ("auc", "eer"):
            row[key] = _fmt(entry[key])
        for far, tar in entry["tar_at_far"].items():
            row[f"TAR@{far}"] = _fmt(tar) if tar["estimable"] else "not estimable"
        row["acc@val-thr"] = round(entry["accuracy_at_val_threshold"]["value"], 4) if "accuracy_at_val_threshold" in entry else None
        row["no-face images"] = entry["detector_failures"]["no_face_excluded"] + entry["detector_failures"]["no_face_centre_crop"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("condition")


def _fmt(entry: dict) -> str:
    if entry["value"] is None:
        return "n/a"
    ci = entry["ci"]
    return f"{entry['value']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else f"{entry['value']:.4f}"


def save_outputs(step_dir: Path, scores: pd.DataFrame, report: dict) -> None:
    """Write ``scores.csv`` and ``metrics.json`` atomically."""
    write_csv_atomic(Path(step_dir) / "scores.csv", scores)
    write_json_atomic(Path(step_dir) / "metrics.json", report)
