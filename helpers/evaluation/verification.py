"""Verification protocols on cached embeddings: the workbench protocol and the LFW View 2 check.

Workbench protocol (v4, :data:`~helpers.evaluation.reports.PROTOCOL_VERSION`): pairs from one identity-disjoint split (at most
``genuine_per_identity`` seeded genuine pairs per person, every impostor pair up
to ``max_impostors``; no image with itself), scored under every condition,
HQ-HQ, HQ gallery vs LQ probe, and LQ-LQ, on the very same pairs. One operating
threshold is fixed on the val split's HQ-HQ impostors and applied to every test
condition. Every interval is a two-way identity bootstrap
(:mod:`helpers.evaluation.bootstrap`). :func:`evaluate` is the one path every model is scored by.
"""

from __future__ import annotations

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
from helpers.evaluation.bootstrap import METHOD, People, interval, interval_entry, resample
from helpers.evaluation.conditions import HQ_CONDITION, MODES, ORACLE, Condition, conditions
from helpers.evaluation.embeddings import EmbeddingStore, View, embed_views, embedding_store, image_keys, view_embeddings, view_of
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.model_runs import ModelRun, model_run
from helpers.evaluation.pairs import PairSet, sample_pairs
from helpers.evaluation.people import pair_weights, people_behind, person_pair_weights
from helpers.evaluation.reports import ModelReport, PairSettings, Protocol, write_report
from helpers.evaluation.scores import conditions_of, write_scores, write_val_scores
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


def operating_point(val_scores: pd.DataFrame, fmr: float, weighting: str = "person") -> dict[str, Any]:
    """The one operating threshold: where HQ-HQ impostors of the val split are accepted at ``fmr`` (NIST style),
    each pair of people weighing the same (``weighting="person"``, :mod:`helpers.evaluation.people`) or each image pair.

    Applied unchanged to every test condition. ``estimable`` says whether the val split holds enough
    units (pairs of people, or image pairs) for 30 false matches at the target (the rule of 30).
    """
    values, same = val_scores[HQ_CONDITION].to_numpy(), val_scores["same"].to_numpy().astype(bool)
    a, b = val_scores["identity_a"].astype(str).to_numpy()[~same], val_scores["identity_b"].astype(str).to_numpy()[~same]
    weights = np.zeros(same.size)
    weights[~same] = pair_weights(a, b, weighting)
    threshold = metrics.threshold_at_fmr(values, same, fmr, weights)
    impostor = values[~same]
    accepted = impostor >= threshold
    units = round(weights.sum())
    return {
        "fmr_target": fmr,
        "threshold": threshold,
        "set_on": f"val {HQ_CONDITION} impostor pairs",
        "weighting": weighting,
        "val_impostors": int(impostor.size),
        "val_people_pairs": round(person_pair_weights(a, b).sum()),
        "val_false_matches": int(accepted.sum()),
        "val_fmr": float(weights[~same][accepted].sum() / weights.sum()),
        "val_fmr_pairs": float(accepted.mean()),
        "estimable": metrics.estimable(units, fmr),
    }


def _entries(point: np.ndarray, resampled: np.ndarray) -> dict[str, dict]:
    return {statistic.key: interval_entry(point[k], interval(resampled[:, k])) for k, statistic in enumerate(statistics.ALL)}


LEVELS = {
    "algorithm": "FMR and FNMR over the pairs whose faces were both acquired",
    "system": "FRR counts a genuine pair with a failure to acquire as a rejection; FAR equals FMR, impostor pairs with a "
    "failure to acquire being left out of its denominator (never counted as correct rejections)",
}
"""The two levels of ISO/IEC 19795-1 every condition reports at the operating threshold, in words."""


def condition_report(values: np.ndarray, same: np.ndarray, people: People, threshold: float, n_boot: int, seed: int) -> dict[str, Any]:
    """One condition: AUC, EER, TAR at each reported FAR, and at the operating threshold FMR (= FAR), FNMR (algorithm
    level) and FRR (system level), all with two-way identity-bootstrap intervals over the system-level pairs
    (:func:`~helpers.evaluation.metrics.system_pairs`), and balanced accuracy in person folds. JSON-ready: None where undefined."""
    keep = metrics.system_pairs(values, same)
    values, same, people = values[keep], same[keep], people.subset(keep)
    ranked = metrics.RankedScores(values, same)
    measure = statistics.measure(statistics.ALL, threshold)
    entries = _entries(measure(ranked.roc()), resample(ranked, people, measure, n_boot, seed))
    n_impostor = ranked.n_impostor
    tar = {
        metrics.far_key(s.far): (entries[s.key] if s.estimable(n_impostor) else {"value": None, "ci": None})
        | {"estimable": s.estimable(n_impostor), "min_impostors": metrics.min_impostors(s.far)}
        for s in statistics.TABLE
        if s.far is not None
    }
    acquired = metrics.acquired_pairs(values)
    rejected = values < threshold
    folds = metrics.person_kfold_accuracy(values, same, people.a, people.b, seed=seed)
    return {
        "n_pairs": int(same.size),
        "n_genuine": int(same.sum()),
        "n_impostor": n_impostor,
        "impostor_pairs_left_out": int((~keep).sum()),
        "auc": entries["auc"],
        "eer": entries["eer"],
        "tar_at_far": tar,
        "operating": {
            "threshold": threshold,
            "fmr": entries["fmr"] | {"false_matches": int((values[~same] >= threshold).sum()), "impostor_pairs": n_impostor},
            "fnmr": entries["fnmr"] | {"false_non_matches": int((rejected & same & acquired).sum()), "genuine_pairs": int((same & acquired).sum())},
            "frr": entries["frr"] | {"false_rejections": int((rejected & same).sum()), "genuine_pairs": int(same.sum())},
            "levels": LEVELS,
        },
        "balanced_accuracy_10fold": {"mean": metrics.finite_or_none(folds.mean), "std": metrics.finite_or_none(folds.std), "folds": "by person"},
        "bootstrap": {"method": METHOD, "level": 0.95, "n_boot": n_boot, "seed": seed},
    }


def condition_metrics(scores: pd.DataFrame, threshold: float, extras: dict[str, dict], n_boot: int, seed: int) -> dict[str, dict]:
    """Per condition: :func:`condition_report` merged with ``extras[condition]`` (detector failures, acquisition)."""
    same = scores["same"].to_numpy().astype(bool)
    people = People.of(same, scores["identity_a"].astype(str).to_numpy(), scores["identity_b"].astype(str).to_numpy())
    return {
        name: condition_report(scores[name].to_numpy(), same, people, threshold, n_boot, seed) | extras[name]
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
    print(
        f"operating threshold {operating['threshold']:.4f}: {operating['weighting']}-weighted FMR {operating['val_fmr']:.2e} on "
        f"{operating['val_people_pairs']:,} pairs of val people ({operating['val_impostors']:,} HQ-HQ impostor pairs, of which "
        f"{operating['val_false_matches']:,} accepted: {operating['val_fmr_pairs']:.2e})"
        + ("" if operating["estimable"] else " (fewer than 30 false matches expected at the target: the threshold is loosely set)")
    )
    failures = detector_failures(manifest, "test")
    extras = {c.name: {"detector_failures": failures, "acquisition": acquisition_report(items["test"], c, pairs["test"])} for c in test_conditions}
    report = condition_metrics(scores["test"], operating["threshold"], extras, n_boot, settings.seed)
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
    return model_run(run_dir, found.scores, report)
