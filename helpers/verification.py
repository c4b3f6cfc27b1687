"""Verification protocols on top of cached embeddings: the workbench protocol and the LFW View 2 check.

Workbench protocol: pairs from one identity-disjoint split (all genuine pairs
plus a seeded sample of impostors; no image with itself), scored under every
condition, HQ-HQ, HQ gallery vs LQ probe, and LQ-LQ, on the very same pairs.
Operating thresholds are chosen on the validation split and only applied to
the test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import metrics
from helpers.degrade import HQ, Degradation
from helpers.embeddings import EmbeddingStore, image_keys
from helpers.pairs import sample_pairs
from helpers.prepare import CENTRE_CROP, NO_FACE
from helpers.scan import OK

SCORE_COLUMNS = ["path_a", "path_b", "identity_a", "identity_b", "same", "condition", "model", "score"]


@dataclass(frozen=True)
class Condition:
    """A comparison: gallery side ``a`` at one quality level, probe side ``b`` at another."""

    name: str
    level_a: Degradation
    level_b: Degradation

    @property
    def resolution(self) -> int:
        """Face resolution of the lower-quality side (the x axis of resolution plots)."""
        return min(self.level_a.resolution, self.level_b.resolution)


def conditions(levels: list[Degradation]) -> list[Condition]:
    """HQ-HQ, then HQ-LQ and LQ-LQ for every level."""
    found = [Condition("HQ-HQ", HQ, HQ)]
    for level in levels:
        found += [Condition(f"HQ-{level.name}", HQ, level), Condition(f"{level.name}-{level.name}", level, level)]
    return found


def split_images(manifest: pd.DataFrame, split: str) -> pd.DataFrame:
    """Usable images of one split that have a crop (``image_id`` = source path)."""
    rows = manifest[(manifest["status"] == OK) & (manifest["split"] == split) & (manifest["crop_path"] != "")]
    return rows.assign(image_id=rows["path"])


def detector_failures(manifest: pd.DataFrame, split: str) -> dict[str, int]:
    """Images of ``split`` where the detector found no face: excluded, or kept as flagged centre crops."""
    rows = manifest[manifest["split"] == split]
    return {
        "images": int(len(rows)),
        "no_face_excluded": int((rows["status"] == NO_FACE).sum()),
        "no_face_centre_crop": int((rows["crop_method"] == CENTRE_CROP).sum()),
    }


def split_pairs(manifest: pd.DataFrame, split: str, n_impostor: int, seed: int) -> pd.DataFrame:
    """All genuine pairs and ``n_impostor`` seeded impostor pairs of one split."""
    return sample_pairs(split_images(manifest, split)[["image_id", "identity", "split"]], n_impostor, seed)


def score_pairs(
    pairs: pd.DataFrame,
    images: pd.DataFrame,
    store: EmbeddingStore,
    conditions_: list[Condition],
    seed: int,
    model: str,
) -> pd.DataFrame:
    """Cosine similarity of every pair under every condition, in the ``scores.csv`` format."""
    info = images.set_index("image_id")
    frames = []
    for condition in conditions_:
        a = _embeddings(pairs["image_a"], info, condition.level_a, seed, store)
        b = _embeddings(pairs["image_b"], info, condition.level_b, seed, store)
        frames.append(
            pd.DataFrame({
                "path_a": pairs["image_a"].to_numpy(), "path_b": pairs["image_b"].to_numpy(),
                "identity_a": pairs["identity_a"].to_numpy(), "identity_b": pairs["identity_b"].to_numpy(),
                "same": pairs["same"].astype(int).to_numpy(), "condition": condition.name, "model": model,
                "score": np.einsum("ij,ij->i", a, b),
            })
        )
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]


def _embeddings(image_ids: pd.Series, info: pd.DataFrame, level: Degradation, seed: int, store: EmbeddingStore) -> np.ndarray:
    return store.get(image_keys(info.loc[image_ids.to_numpy()], level, seed))


def val_thresholds(val_scores: pd.DataFrame) -> dict[str, float]:
    """Accuracy-maximising threshold per condition, chosen on validation pairs only."""
    return {name: metrics.best_threshold(group["score"], group["same"]) for name, group in val_scores.groupby("condition", sort=False)}


def condition_metrics(
    scores: pd.DataFrame,
    thresholds: dict[str, float],
    failures: dict[str, int],
    n_boot: int,
    seed: int,
) -> dict[str, dict]:
    """Per condition: the full verification report, 10-fold accuracy, accuracy at the
    validation threshold, and the detector failures behind the pairs."""
    report = {}
    for name, group in scores.groupby("condition", sort=False):
        values, same = group["score"].to_numpy(), group["same"].to_numpy().astype(bool)
        entry = metrics.verification_report(values, same, group["identity_a"].to_numpy(), group["identity_b"].to_numpy(), n_boot=n_boot, seed=seed)
        folds = metrics.kfold_accuracy(values, same, n_folds=10, seed=seed)
        entry["accuracy_10fold"] = {"mean": float(folds.mean), "std": float(folds.std)}
        if name in thresholds:
            entry["accuracy_at_val_threshold"] = {"threshold": float(thresholds[name]), "value": float(((values >= thresholds[name]) == same).mean())}
        entry["detector_failures"] = failures
        report[name] = entry
    return report


def lfw_view2_accuracy(pairs: pd.DataFrame, images: pd.DataFrame, store: EmbeddingStore, seed: int) -> dict:
    """LFW View 2 on HQ crops: threshold chosen on 9 official folds, applied to the 10th; mean and std over folds."""
    info = images.set_index("image_id")
    a = _embeddings(pairs["path_a"], info, HQ, seed, store)
    b = _embeddings(pairs["path_b"], info, HQ, seed, store)
    folds = metrics.kfold_accuracy(np.einsum("ij,ij->i", a, b), pairs["same"].to_numpy().astype(bool), folds=pairs["fold"].to_numpy())
    return {"mean": float(folds.mean), "std": float(folds.std), "per_fold": [float(v) for v in folds.accuracies], "n_pairs": int(len(pairs))}
