"""Verification protocols on cached embeddings: the workbench protocol and the LFW View 2 check.

Workbench protocol (v5, :data:`~helpers.evaluation.reports.PROTOCOL_VERSION`): pairs from one identity-disjoint split (at most
``genuine_per_identity`` seeded genuine pairs per person, every impostor pair up
to ``max_impostors``; no image with itself), scored under every condition,
HQ-HQ, HQ gallery vs LQ probe, and LQ-LQ, on the very same pairs. One operating
threshold is fixed on the val split's HQ-HQ impostors (:mod:`helpers.evaluation.thresholds`) and applied
to every test condition. Every interval is a two-way identity bootstrap
(:mod:`helpers.evaluation.bootstrap`), the threshold re-derived on resampled val people. :func:`evaluate` is the one path every model is scored by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.progress import progress
from helpers.data.acquire import ACQUIRED, FAILURES, load_acquisition
from helpers.data.degrade import HQ, Degradation
from helpers.data.levels import LevelSet
from helpers.data.manifest import CENTRE_CROP, NO_FACE, protocol_of, split_images
from helpers.evaluation import metrics, statistics
from helpers.evaluation.bootstrap import METHOD, People, Thresholds, interval, interval_entry, resample
from helpers.evaluation.conditions import HQ_CONDITION, MODES, ORACLE, Condition, conditions
from helpers.evaluation.embeddings import EmbeddingStore, View, embed_views, embedding_store, image_keys, view_embeddings, view_of
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.model_runs import ModelRun, model_run
from helpers.evaluation.pairs import PairSet, sample_pairs
from helpers.evaluation.people import people_behind
from helpers.evaluation.reports import ModelReport, PairSettings, Protocol, write_report
from helpers.evaluation.scores import conditions_of, people_of, write_scores, write_val_scores
from helpers.evaluation.thresholds import operating_point, resampled_thresholds
from helpers.models.recognisers import FaceRecogniser


def detector_failures(manifest: pd.DataFrame, split: str) -> dict[str, int]:
    """Images of ``split`` where the detector found no face: excluded, or kept as flagged centre crops."""
    rows = manifest[manifest["split"] == split]
    return {
        "images": len(rows),
        "no_face_excluded": int((rows["status"] == NO_FACE).sum()),
        "no_face_centre_crop": int((rows["crop_method"] == CENTRE_CROP).sum()),
    }


def split_pairs(manifest: pd.DataFrame, split: str, settings: PairSettings) -> PairSet:
    """The balanced genuine pairs and every impostor pair (up to the cap) of one split."""
    images = split_images(manifest, split)[["image_id", "identity", "split"]]
    return sample_pairs(images, settings.genuine_per_identity, settings.max_impostors, settings.seed)


def pair_summary(pairs: PairSet) -> dict[str, Any]:
    """What ``metrics.json`` records of one split's pairs: people, images, pair counts, and the people each error rate
    rests on (the largest person's share and Kish's effective number, behind FNMR's genuine and FMR's impostor pairs)."""
    identity = pairs.images["identity"].astype(str).to_numpy()
    a, b = identity[pairs.a], identity[pairs.b]
    return {
        "people": int(pairs.images["identity"].nunique()),
        "images": len(pairs.images),
        "genuine": pairs.n_genuine,
        "impostor": pairs.n_impostor,
        "impostor_available": pairs.available_impostors,
        "largest_genuine_share": pairs.largest_share(),
        "behind_fnmr": people_behind(a[pairs.same], b[pairs.same], genuine=True),
        "behind_fmr": people_behind(a[~pairs.same], b[~pairs.same], genuine=False),
    }


def pair_scores(gallery: np.ndarray, probe: np.ndarray, a: np.ndarray, b: np.ndarray, block: int = 4096) -> np.ndarray:
    """``gallery[a] . probe[b]`` for every pair, as row blocks of one matrix product (float32)."""
    scores = np.empty(a.size, dtype=np.float32)
    order = np.argsort(a, kind="stable")
    bounds = np.searchsorted(a[order], np.arange(0, gallery.shape[0] + block, block))
    for k, start in enumerate(range(0, gallery.shape[0], block)):
        chosen = order[bounds[k] : bounds[k + 1]]
        similarities = gallery[start : start + block].astype(np.float32) @ probe.astype(np.float32).T
        scores[chosen] = similarities[a[chosen] - start, b[chosen]]
    return scores


def score_pairs(pairs: PairSet, items: dict[View, pd.DataFrame], store: EmbeddingStore, conditions_: list[Condition]) -> pd.DataFrame:
    """Cosine similarity of every pair under every condition, in the ``scores.parquet`` format.

    ``items`` holds each view's :func:`~helpers.evaluation.embeddings.view_items` in ``pairs.images`` order;
    a pair with an unacquired side scores :data:`~helpers.evaluation.metrics.FAILED_SCORE`.
    """
    embedded = {view: view_embeddings(store, frame) for view, frame in items.items()}
    frame = pairs.frame().rename(columns={"image_a": "path_a", "image_b": "path_b"})
    for condition in conditions_:
        (gallery, ok_a), (probe, ok_b) = (embedded[view_of(level, condition.mode)] for level in (condition.level_a, condition.level_b))
        values = pair_scores(gallery, probe, pairs.a, pairs.b)
        values[~(ok_a[pairs.a] & ok_b[pairs.b])] = metrics.FAILED_SCORE
        frame[condition.name] = values
    return frame


def condition_views(conditions_: list[Condition]) -> list[View]:
    """Every view the conditions' sides need, each once."""
    return list(dict.fromkeys(view_of(level, c.mode) for c in conditions_ for level in (c.level_a, c.level_b)))


def acquisition_report(items: dict[View, pd.DataFrame], condition: Condition, pairs: PairSet) -> dict[str, Any] | None:
    """Failures to acquire behind an end-to-end condition: images per outcome, the rate, the acquired faces that are not
    the HQ one (scored all the same), and the pairs the failures enter (genuine: rejections in FRR; impostor: left out
    of FMR's denominator); None for oracle and HQ-HQ conditions, where every face is acquired by construction."""
    if condition.mode == ORACLE or condition.family == HQ_CONDITION:
        return None
    sides = [items[view_of(level, condition.mode)]["acquired"].to_numpy(dtype=bool) for level in (condition.level_a, condition.level_b)]
    failed = ~(sides[0][pairs.a] & sides[1][pairs.b])
    status = items[view_of(condition.probe, condition.mode)]["status"]
    lost = (status != ACQUIRED).to_numpy()
    return {
        "images": int(lost.size),
        "failed": int(lost.sum()),
        **{kind: int((status == kind).sum()) for kind in FAILURES},
        "rate": float(lost.mean()) if lost.size else 0.0,
        "wrong_face": int(items[view_of(condition.probe, condition.mode)]["wrong_face"].sum()),
        "genuine_pairs_failed": int((failed & pairs.same).sum()),
        "impostor_pairs_failed": int((failed & ~pairs.same).sum()),
    }


def operating_line(operating: dict[str, Any]) -> str:
    """The operating threshold in one line, with what val could not support."""
    if operating["threshold"] is None:
        return f"no operating threshold: {operating['advice']}"
    line = (
        f"operating threshold {operating['threshold']:.4f}: {operating['weighting']}-weighted FMR {operating['val_fmr']:.2e} on "
        f"{operating['val_people_pairs']:,.0f} pairs of val people ({operating['val_impostors']:,} HQ-HQ impostor pairs, of which "
        f"{operating['val_false_matches']:,} accepted: {operating['val_fmr_pairs']:.2e})"
    )
    return line + (f"; {operating['advice']}" if operating["advice"] else "")


def _entries(point: np.ndarray, resampled: np.ndarray) -> dict[str, dict]:
    return {statistic.key: interval_entry(point[k], interval(resampled[:, k])) for k, statistic in enumerate(statistics.ALL)}


LEVELS = {
    "algorithm": "FMR and FNMR over the pairs whose faces were both acquired",
    "system": "FRR counts a genuine pair with a failure to acquire as a rejection; FAR equals FMR, impostor pairs with a "
    "failure to acquire being left out of its denominator (never counted as correct rejections)",
}
"""The two levels of ISO/IEC 19795-1 every condition reports at the operating threshold, in words."""


def _operating(entries: dict[str, dict], values: np.ndarray, same: np.ndarray, people: People, threshold: float, fmr: float | None) -> dict:
    """FMR, FNMR and FRR at the operating threshold with their error counts and, by the rule of 30 counted in people,
    whether each is estimable (FMR at the target it was set at, FNMR and FRR at their measured values)."""
    if not math.isfinite(threshold) or fmr is None:
        missing = {"value": None, "ci": None, "available": False, "estimable": False}
        return {"threshold": None, "fmr": missing, "fnmr": missing, "frr": missing, "levels": LEVELS}
    acquired, rejected = metrics.acquired_pairs(values), values < threshold
    impostor_units, genuine_units = people.impostor_units(), people.genuine_units()
    fnmr, frr = (entries[key]["value"] or 0.0 for key in ("fnmr", "frr"))
    return {
        "threshold": threshold,
        "fmr": entries["fmr"]
        | {"false_matches": int((values[~same] >= threshold).sum()), "impostor_pairs": int((~same).sum()), "estimable": metrics.estimable(impostor_units, fmr)},
        "fnmr": entries["fnmr"]
        | {"false_non_matches": int((rejected & same & acquired).sum()), "genuine_pairs": int((same & acquired).sum())}
        | {"estimable": metrics.estimable(genuine_units, fnmr)},
        "frr": entries["frr"]
        | {"false_rejections": int((rejected & same).sum()), "genuine_pairs": int(same.sum()), "estimable": metrics.estimable(genuine_units, frr)},
        "levels": LEVELS,
    }


def condition_report(values: np.ndarray, same: np.ndarray, people: People, thresholds: Thresholds, fmr: float | None, seed: int) -> dict[str, Any]:
    """One condition: AUC, EER, TAR at each reported FAR, and at the operating threshold (set on val at ``fmr``; None:
    none) FMR (= FAR), FNMR (algorithm level) and FRR (system level), all with two-way identity-bootstrap intervals over
    the system-level pairs (:func:`~helpers.evaluation.metrics.system_pairs`), those at the threshold read at its
    resampled values (``thresholds``); the people behind the pairs and, by the rule of 30 counted in them, what is
    estimable; balanced accuracy in person folds. JSON-ready: None where undefined."""
    keep = metrics.system_pairs(values, same)
    values, same, people = values[keep], same[keep], people.subset(keep)
    ranked = metrics.RankedScores(values, same)
    measure = statistics.measure(statistics.ALL)
    entries = _entries(measure(ranked.roc(), thresholds.point), resample(ranked, people, measure, thresholds, seed))
    impostor_units = people.impostor_units()
    tar = {
        metrics.far_key(s.far): (entries[s.key] if s.estimable(impostor_units) else {"value": None, "ci": None})
        | {"estimable": s.estimable(impostor_units), "min_people_pairs": metrics.min_units(s.far)}
        for s in statistics.TABLE
        if s.far is not None
    }
    folds = metrics.person_kfold_accuracy(values, same, people.a, people.b, seed=seed)
    return {
        "n_pairs": int(same.size),
        "n_genuine": int(same.sum()),
        "n_impostor": ranked.n_impostor,
        "impostor_pairs_left_out": int((~keep).sum()),
        "people_pairs": round(impostor_units, 1),
        "genuine_people": round(people.genuine_units(), 1),
        "auc": entries["auc"],
        "eer": entries["eer"],
        "tar_at_far": tar,
        "operating": _operating(entries, values, same, people, thresholds.point, fmr),
        "balanced_accuracy_10fold": {"mean": metrics.finite_or_none(folds.mean), "std": metrics.finite_or_none(folds.std), "folds": "by person"},
        "bootstrap": {"method": METHOD, "level": 0.95, "n_boot": thresholds.n_boot, "seed": seed},
    }


def condition_metrics(scores: pd.DataFrame, thresholds: Thresholds, fmr: float | None, extras: dict[str, dict], seed: int) -> dict[str, dict]:
    """Per condition: :func:`condition_report` merged with ``extras[condition]`` (detector failures, acquisition)."""
    same, people = scores["same"].to_numpy().astype(bool), people_of(scores)
    return {
        name: condition_report(scores[name].to_numpy(), same, people, thresholds, fmr, seed) | extras[name]
        for name in progress(conditions_of(scores), "conditions")
    }


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` finds for one recogniser: test and val scores, per-condition metrics, pairs per split, the operating point."""

    scores: pd.DataFrame
    val_scores: pd.DataFrame
    conditions: dict[str, dict]
    pairs: dict[str, dict]
    operating: dict[str, Any]


def evaluate(
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    levels: list[Degradation],
    level_seed: int,
    flip: bool,
    settings: PairSettings,
    n_boot: int,
    acquisition: pd.DataFrame | None = None,
) -> Evaluation:
    """The workbench protocol for one recogniser: test-split scores and per-condition metrics.

    Embeds the val crops at HQ and the test crops at HQ and every level, oracle and (with
    notebook 01's ``acquisition`` table) end to end (cached); fixes the operating threshold on the
    val split's HQ-HQ impostors at the target FMR; scores the test split's balanced genuine pairs
    and every impostor pair (up to the cap) under every condition and reports on them. Every
    model the workbench compares goes through this one function.
    """
    store = embedding_store(processed_dir, recogniser, flip)
    test_conditions = conditions(levels, MODES if acquisition is not None else (ORACLE,))
    scores, summaries, items, pairs = {}, {}, {}, {}
    for split, split_conditions in (("val", test_conditions[:1]), ("test", test_conditions)):
        pairs[split] = split_pairs(manifest, split, settings)
        images = split_images(manifest, split).set_index("image_id").loc[pairs[split].images["image_id"].to_numpy()].reset_index()
        items[split], computed = embed_views(images, condition_views(split_conditions), level_seed, processed_dir, recogniser, store, flip, acquisition)
        scores[split], summaries[split] = score_pairs(pairs[split], items[split], store, split_conditions), pair_summary(pairs[split])
        print(
            f"{split}: {len(images)} images x {len(items[split])} views ({computed} embeddings computed, the rest cached); "
            f"{pairs[split].n_genuine:,} genuine + {pairs[split].n_impostor:,} impostor pairs (of {pairs[split].available_impostors:,}) "
            f"of {summaries[split]['people']} people; the largest person gives {summaries[split]['largest_genuine_share']:.1%} of genuine pairs "
            f"and takes part in {summaries[split]['behind_fmr']['largest_share']:.1%} of impostor pairs; effective people (Kish) behind FNMR "
            f"{summaries[split]['behind_fnmr']['effective_people']:.1f}, behind FMR {summaries[split]['behind_fmr']['effective_people']:.1f}"
        )
    operating = operating_point(scores["val"], settings.operating_fmr, settings.threshold_weighting)
    print(operating_line(operating))
    failures = detector_failures(manifest, "test")
    extras = {c.name: {"detector_failures": failures, "acquisition": acquisition_report(items["test"], c, pairs["test"])} for c in test_conditions}
    thresholds = resampled_thresholds(scores["val"], operating, n_boot, settings.seed)
    report = condition_metrics(scores["test"], thresholds, operating["fmr"], extras, settings.seed)
    return Evaluation(scores["test"], scores["val"], report, summaries, operating)


def lfw_view2_accuracy(pairs: pd.DataFrame, images: pd.DataFrame, store: EmbeddingStore, seed: int) -> dict:
    """LFW View 2 on HQ crops: threshold chosen on 9 official folds, applied to the 10th; mean and std over folds."""
    info = images.set_index("image_id")
    a = store.get(image_keys(info.loc[pairs["path_a"].to_numpy()], HQ, seed))
    b = store.get(image_keys(info.loc[pairs["path_b"].to_numpy()], HQ, seed))
    folds = metrics.kfold_accuracy(np.einsum("ij,ij->i", a, b), pairs["same"].to_numpy().astype(bool), folds=pairs["fold"].to_numpy())
    return {"mean": float(folds.mean), "std": float(folds.std), "per_fold": [float(v) for v in folds.accuracies], "n_pairs": len(pairs)}


def score_model(
    run_dir: Path,
    model: dict[str, Any],
    manifest: pd.DataFrame,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    levels: LevelSet,
    flip: bool,
    settings: PairSettings,
    n_boot: int,
    endpoint: Endpoint | None = None,
    **extras: Any,
) -> ModelRun:
    """Score a recogniser under the workbench protocol and write its step folder: ``scores.parquet`` and ``metrics.json``.

    ``model["name"]`` names the model; ``endpoint``, the primary endpoint declared before scoring, is
    recorded locked (:meth:`Endpoint.lock`); ``extras`` are the report's optional sections (``lfw_view2``, ``training``). Notebooks 02 and 03 both save their
    results through here, so their files cannot differ in form.
    """
    loaded = load_acquisition(processed_dir)
    table, acquisition = loaded if loaded is not None else (None, None)
    found = evaluate(manifest, processed_dir, recogniser, list(levels.levels), levels.seed, flip, settings, n_boot, table)
    protocol = Protocol(
        split="test",
        label=protocol_of(manifest),
        pairs=settings,
        level_seed=levels.seed,
        levels=levels.specs(),
        operating=found.operating,
        acquisition=acquisition,
        endpoint=None if endpoint is None else endpoint.lock(),
    )
    report = ModelReport(model=model, protocol=protocol, conditions=found.conditions, pairs=found.pairs, **extras)
    write_scores(run_dir, found.scores)
    write_val_scores(run_dir, found.val_scores)
    write_report(run_dir, report)
    return model_run(run_dir, found.scores, report, found.val_scores)
