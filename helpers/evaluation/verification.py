"""Verification protocols on cached embeddings: the workbench protocol and the LFW View 2 check.

Workbench protocol: pairs from one identity-disjoint split (all genuine pairs
plus a seeded sample of impostors; no image with itself), scored under every
condition, HQ-HQ, HQ gallery vs LQ probe, and LQ-LQ, on the very same pairs.
Operating thresholds are chosen on the validation split and only applied to
the test split. :func:`evaluate` is the one path every model is scored by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.degrade import HQ, Degradation
from helpers.data.levels import LevelSet
from helpers.data.manifest import CENTRE_CROP, NO_FACE, protocol_of, split_images
from helpers.evaluation import metrics
from helpers.evaluation.conditions import Condition, conditions
from helpers.evaluation.embeddings import EmbeddingStore, embed_images, embedding_store, image_keys
from helpers.evaluation.model_runs import ModelRun, model_run
from helpers.evaluation.pairs import sample_pairs
from helpers.evaluation.reports import ModelReport, PairSettings, Protocol, write_report
from helpers.evaluation.scores import SCORE_COLUMNS, write_scores
from helpers.models.recognisers import Recogniser


def detector_failures(manifest: pd.DataFrame, split: str) -> dict[str, int]:
    """Images of ``split`` where the detector found no face: excluded, or kept as flagged centre crops."""
    rows = manifest[manifest["split"] == split]
    return {
        "images": len(rows),
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
            pd.DataFrame(
                {
                    "path_a": pairs["image_a"].to_numpy(),
                    "path_b": pairs["image_b"].to_numpy(),
                    "identity_a": pairs["identity_a"].to_numpy(),
                    "identity_b": pairs["identity_b"].to_numpy(),
                    "same": pairs["same"].astype(int).to_numpy(),
                    "condition": condition.name,
                    "model": model,
                    "score": np.einsum("ij,ij->i", a, b),
                }
            )
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
        print(
            f"{split}: {len(images)} images x {1 + len(levels)} levels ({computed} embeddings computed, the rest cached); "
            f"{int(pairs['same'].sum())} genuine + {int((~pairs['same']).sum())} impostor pairs of {pairs['identity_a'].nunique()} identities"
        )
    report = condition_metrics(scores["test"], val_thresholds(scores["val"]), detector_failures(manifest, "test"), n_boot, seed)
    return scores["test"], report


def lfw_view2_accuracy(pairs: pd.DataFrame, images: pd.DataFrame, store: EmbeddingStore, seed: int) -> dict:
    """LFW View 2 on HQ crops: threshold chosen on 9 official folds, applied to the 10th; mean and std over folds."""
    info = images.set_index("image_id")
    a = _embeddings(pairs["path_a"], info, HQ, seed, store)
    b = _embeddings(pairs["path_b"], info, HQ, seed, store)
    folds = metrics.kfold_accuracy(np.einsum("ij,ij->i", a, b), pairs["same"].to_numpy().astype(bool), folds=pairs["fold"].to_numpy())
    return {"mean": float(folds.mean), "std": float(folds.std), "per_fold": [float(v) for v in folds.accuracies], "n_pairs": len(pairs)}


def score_model(
    run_dir: Path,
    model: dict[str, Any],
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: Recogniser,
    levels: LevelSet,
    flip: bool,
    pairs: PairSettings,
    n_boot: int,
    **extras: Any,
) -> ModelRun:
    """Score a recogniser under the workbench protocol and write its step folder: ``scores.csv`` and ``metrics.json``.

    ``model["name"]`` names the model in the scores; ``extras`` are the report's
    optional sections (``lfw_view2``, ``training``). Notebooks 02
    and 03 both save their results through here, so their files cannot differ in form.
    """
    scores, conditions_ = evaluate(
        manifest, processed_dir, recogniser, list(levels.levels), levels.seed, flip, pairs.by_split(), pairs.seed, n_boot, model["name"]
    )
    protocol = Protocol(
        split="test",
        label=protocol_of(manifest),
        n_impostor=pairs.n_impostor,
        n_impostor_val=pairs.n_impostor_val,
        seed=pairs.seed,
        level_seed=levels.seed,
        levels=levels.specs(),
    )
    report = ModelReport(model=model, protocol=protocol, conditions=conditions_, **extras)
    write_scores(run_dir, scores)
    write_report(run_dir, report)
    return model_run(run_dir, scores, report)
