"""Notebook 02's steps: embed every split and level once, score the protocols, save the public outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import metrics, plots
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
from helpers.summary import format_entry
from helpers.verification import Condition, condition_metrics, conditions, detector_failures, score_pairs, split_images, split_pairs, val_thresholds

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


def evaluate(
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: Recogniser,
    levels: list[Degradation],
    level_seed: int,
    flip: bool,
    n_impostor: dict[str, int],
    seed: int,
    n_boot: int,
    model: str,
) -> tuple[pd.DataFrame, dict]:
    """The workbench protocol for one recogniser: test-split ``scores.csv`` rows and per-condition metrics.

    Embeds the val and test crops at HQ and every level (cached), scores all
    genuine and ``n_impostor[split]`` seeded impostor pairs of each split under
    every condition, picks thresholds on val, and reports on test. Every model
    the workbench compares goes through this one function.
    """
    store = embedding_store(processed_dir, recogniser, flip)
    scores = {}
    for split in ("val", "test"):
        images = split_images(manifest, split)
        computed = embed_images(images, levels, level_seed, processed_dir, recogniser, store, flip)
        pairs = split_pairs(manifest, split, n_impostor[split], seed)
        scores[split] = score_pairs(pairs, images, store, conditions(levels), level_seed, model)
        print(f"{split}: {len(images)} images x {1 + len(levels)} levels ({computed} embeddings computed, the rest cached); "
              f"{int(pairs['same'].sum())} genuine + {int((~pairs['same']).sum())} impostor pairs of {pairs['identity_a'].nunique()} identities")
    report = condition_metrics(scores["test"], val_thresholds(scores["val"]), detector_failures(manifest, "test"), n_boot, seed)
    return scores["test"], report


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
            row[key] = format_entry(entry[key], "value", 4)
        for far, tar in entry["tar_at_far"].items():
            row[f"TAR@{far}"] = format_entry(tar, "value", 4) if tar["estimable"] else "not estimable"
        row["acc@val-thr"] = round(entry["accuracy_at_val_threshold"]["value"], 4) if "accuracy_at_val_threshold" in entry else None
        row["no-face images"] = entry["detector_failures"]["no_face_excluded"] + entry["detector_failures"]["no_face_centre_crop"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("condition")


def save_plots(step_dir: Path, scores: pd.DataFrame, report: dict, levels: list[Degradation], model: str, label: str) -> list[Path]:
    """ROC curves (HQ vs LQ, LQ vs LQ), score histograms, AUC and TAR@FAR=1e-3 versus resolution, as PNGs."""
    curves = roc_by_condition(scores)
    hq_lq = {name: curve for name, curve in curves.items() if name.startswith("HQ-")}
    lq_lq = {name: curve for name, curve in curves.items() if name == "HQ-HQ" or not name.startswith("HQ-")}
    found = conditions(levels)
    figures = {
        "roc_hq_vs_lq": plots.roc_curves(hq_lq, f"{model}: ROC, HQ gallery vs LQ probe ({label})"),
        "roc_lq_vs_lq": plots.roc_curves(lq_lq, f"{model}: ROC, LQ vs LQ ({label})"),
        "score_histograms": plots.score_histograms(scores, [c.name for c in found], f"{model}: genuine vs impostor scores ({label})"),
    }
    for metric, title in (("auc", "AUC"), ("tar", "TAR@FAR=1e-3")):
        figures[f"{metric}_vs_resolution"] = plots.metric_vs_resolution(resolution_table(report, found, metric), title, f"{model}: {title} vs face resolution ({label})")
    return [plots.save_figure(figure, Path(step_dir) / f"{name}.png") for name, figure in figures.items()]


def save_outputs(step_dir: Path, scores: pd.DataFrame, report: dict) -> None:
    """Write ``scores.csv`` and ``metrics.json`` atomically."""
    write_csv_atomic(Path(step_dir) / "scores.csv", scores)
    write_json_atomic(Path(step_dir) / "metrics.json", report)
