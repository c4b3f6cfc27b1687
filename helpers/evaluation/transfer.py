"""Beyond the training dataset: each model's FMR and FNMR on another dataset, at the threshold it set on its own val split.

Fine-tuning on a few thousand LFW images can pull a model toward LFW: its LFW-val threshold may not
carry over to other faces. Notebook 01 prepares the other dataset (e.g. ORL, which no arm trains
on); every usable HQ image of it, whatever split notebook 01 gave it, is embedded by each model and
paired (at most ``genuine_per_identity`` genuine pairs a person, every impostor pair), and each
model is read at its own operating threshold, held fixed: it was set on LFW val, not here. Intervals
are the two-way identity bootstrap over the other dataset's people. A model whose FMR there is more
than :data:`FMR_RATIO_FLAG` times the pretrained model's is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.sources import project_path
from helpers.data.degrade import HQ
from helpers.data.levels import load_levels
from helpers.data.manifest import load_manifest, load_source, usable_images
from helpers.evaluation.bootstrap import Thresholds
from helpers.evaluation.embeddings import embed_images, embedding_store, image_keys
from helpers.evaluation.model_runs import ModelRun, run_recogniser
from helpers.evaluation.pairs import PairSet, sample_pairs
from helpers.evaluation.verification import condition_report, pair_scores

FMR_RATIO_FLAG = 2.0
"""An FMR on the other dataset above this multiple of the pretrained model's flags the model."""
TRANSFER_COLUMNS = [
    "model",
    "dataset",
    "threshold",
    "fmr",
    "fmr_low",
    "fmr_high",
    "fmr_estimable",
    "fnmr",
    "fnmr_low",
    "fnmr_high",
    "auc",
    "fmr_ratio",
    "flagged",
]


def other_images(processed_dir: Path) -> pd.DataFrame:
    """Every usable image with a crop in notebook 01's output ``processed_dir``, as one split."""
    rows = usable_images(load_manifest(processed_dir))
    if rows["identity"].nunique() < 2:
        raise ValueError(f"{processed_dir}: fewer than two people with usable images; prepare another dataset with notebook 01")
    return rows.assign(split="all")


def other_pairs(images: pd.DataFrame, genuine_per_identity: int, seed: int) -> PairSet:
    """Up to ``genuine_per_identity`` genuine pairs a person and every impostor pair of ``images``."""
    return sample_pairs(images[["image_id", "identity", "split"]], genuine_per_identity, 10**9, seed)


def model_scores(run: ModelRun, processed_dir: Path, images: pd.DataFrame, pairs: PairSet) -> np.ndarray:
    """``run``'s HQ scores of ``pairs`` (its recogniser rebuilt from its step folder, embeddings cached in ``processed_dir``)."""
    _, recogniser, flip = run_recogniser(run.folder)
    seed = load_levels(processed_dir).seed
    store = embedding_store(processed_dir, recogniser, flip)
    embed_images(images, [], seed, processed_dir, recogniser, store, flip)
    ordered = images.set_index("image_id").loc[pairs.images["image_id"]].reset_index()
    vectors = store.get(image_keys(ordered, HQ, seed))
    return pair_scores(vectors, vectors, pairs.a, pairs.b)


def transfer_rates(run: ModelRun, scores: np.ndarray, pairs: PairSet, n_boot: int, seed: int) -> dict[str, Any]:
    """FMR, FNMR (with intervals) and AUC of ``scores`` at ``run``'s operating threshold, held fixed."""
    fmr_target = run.protocol.operating.get("fmr")
    report = condition_report(scores, pairs.same, pairs.people(), Thresholds.fixed(run.threshold, n_boot), fmr_target, seed)
    operating = report["operating"]
    fmr, fnmr = operating["fmr"], operating["fnmr"]
    low, high = fmr["ci"] or (math.nan, math.nan)
    fnmr_low, fnmr_high = fnmr["ci"] or (math.nan, math.nan)
    return {"threshold": run.threshold, "fmr": _value(fmr), "fmr_low": low, "fmr_high": high, "fmr_estimable": bool(fmr["estimable"])} | {
        "fnmr": _value(fnmr),
        "fnmr_low": fnmr_low,
        "fnmr_high": fnmr_high,
        "auc": _value(report["auc"]),
    }


def _value(entry: dict[str, Any]) -> float:
    return math.nan if entry.get("value") is None else float(entry["value"])


def transfer_table(runs: Sequence[ModelRun], processed_dir: str | Path, genuine_per_identity: int = 10, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every model on the other dataset at its own threshold; the first run (the pretrained model) is the reference of ``fmr_ratio``."""
    processed = project_path(processed_dir)
    images = other_images(processed)
    pairs = other_pairs(images, genuine_per_identity, seed)
    dataset = load_source(processed).dataset
    rows = [{"model": run.name, "dataset": dataset} | transfer_rates(run, model_scores(run, processed, images, pairs), pairs, n_boot, seed) for run in runs]
    return with_ratios(pd.DataFrame(rows))


def with_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each FMR as a multiple of the first row's (the pretrained model's) and the flag above :data:`FMR_RATIO_FLAG`."""
    reference = table["fmr"].iloc[0]
    ratio = table["fmr"] / reference if reference > 0 else pd.Series(np.where(table["fmr"] > 0, np.inf, 1.0), index=table.index)
    return table.assign(fmr_ratio=ratio, flagged=ratio > FMR_RATIO_FLAG)[TRANSFER_COLUMNS]
