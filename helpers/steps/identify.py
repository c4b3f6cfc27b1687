"""Notebook 04's step: closed-set classifiers and open-set gallery search on one model's embeddings, at every view.

A *view* is one quality level seen one way: ``HQ``, an oracle level (``px16``: the
HQ-aligned crop degraded) or an end-to-end one (``e2e:px16``: the degraded photo
detected and aligned; a face not acquired is a miss). Embeddings come from the
same cache notebooks 02 and 03 fill, so views they scored cost nothing here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.progress import progress
from helpers.data.degrade import HQ, Degradation
from helpers.data.split import stable_unit
from helpers.evaluation.conditions import E2E_PREFIX, END_TO_END, ORACLE
from helpers.evaluation.embeddings import EmbeddingStore, View, embed_views, embedding_store, view_embeddings, view_of
from helpers.identification import closedset, openset, realsets
from helpers.identification.intervals import person_rate
from helpers.identification.search import Gallery, cmc
from helpers.identification.storage import save_classifier
from helpers.models.recognisers import FaceRecogniser

CLASSIFIER_FOLDER = "classifiers"


def view_name(view: View) -> str:
    """``HQ``, ``px16`` (oracle) or ``e2e:px16`` (end to end)."""
    level, mode = view
    return "HQ" if level.is_identity else f"{E2E_PREFIX if mode == END_TO_END else ''}{level.name}"


def views_of(levels: list[Degradation], modes: tuple[str, ...]) -> list[View]:
    """HQ, then every level in every mode."""
    return [view_of(HQ, ORACLE), *(view_of(level, mode) for mode in modes for level in levels)]


@dataclass(frozen=True)
class Embedder:
    """What turns images into view embeddings: the recogniser, its cache, and notebook 01's level seed and acquisition table."""

    recogniser: FaceRecogniser
    processed_dir: Path
    flip: bool
    seed: int
    acquisition: pd.DataFrame | None

    @cached_property
    def store(self) -> EmbeddingStore:
        """The recogniser's embedding cache, read from disk once per embedder."""
        return embedding_store(self.processed_dir, self.recogniser, self.flip)

    def covers(self, images: pd.DataFrame, view: View) -> bool:
        """Whether every image of ``images`` has an outcome at ``view``: always oracle, end to end where notebook 01 acquired it."""
        level, mode = view
        if mode == ORACLE:
            return True
        return self.acquisition is not None and set(images["path"]) <= set(self.acquisition.loc[self.acquisition["level"] == level.name, "path"])

    def vectors(self, images: pd.DataFrame, views: list[View]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{view name: (embeddings, acquired mask)}`` of ``images`` in their order (computed once, then cached)."""
        items, _ = embed_views(images, views, self.seed, self.processed_dir, self.recogniser, self.store, self.flip, self.acquisition)
        return {view_name(view): view_embeddings(self.store, items[view]) for view in views}


def view_row(view: View) -> dict[str, Any]:
    """A view's describing columns: name, level, alignment, face resolution."""
    level, mode = view
    return {"view": view_name(view), "level": "HQ" if level.is_identity else level.name, "alignment": mode, "resolution": level.resolution}


def mixed_copies(train: pd.DataFrame, levels: list[Degradation], copies: int, seed: int) -> dict[str, pd.DataFrame]:
    """The mixed regime's degraded copies: each training image ``copies`` times, each at a seeded level; ``{level name: images}``."""
    if not levels:
        raise ValueError("the mixed regime needs at least one level in mixed_levels")
    picks = [
        (levels[int(stable_unit(seed, "mixed", sha, str(copy)) * len(levels))].name, index)
        for index, sha in enumerate(train["sha256"])
        for copy in range(copies)
    ]
    chosen = pd.DataFrame(picks, columns=["level", "row"])
    return {name: train.iloc[group["row"].to_numpy()] for name, group in chosen.groupby("level", sort=False)}


def training_sets(
    embedder: Embedder, train: pd.DataFrame, levels: list[Degradation], copies: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per regime, ``(embeddings, people, source image)``: HQ training images, and those plus their degraded copies."""
    hq, _ = embedder.vectors(train, [view_of(HQ, ORACLE)])["HQ"]
    x, people, groups = [hq], [train["identity"].to_numpy()], [train["sha256"].to_numpy()]
    by_name = {level.name: level for level in levels}
    for name, images in mixed_copies(train, levels, copies, seed).items():
        x.append(embedder.vectors(images, [view_of(by_name[name], ORACLE)])[name][0])
        people.append(images["identity"].to_numpy())
        groups.append(images["sha256"].to_numpy())
    return {closedset.HQ_ONLY: (x[0], people[0], groups[0]), closedset.MIXED: (np.concatenate(x), np.concatenate(people), np.concatenate(groups))}


@dataclass
class ClosedSetResult:
    """Closed-set outputs: one metrics row per (regime, classifier, view), per-person reports, confusions, and the saved classifiers."""

    results: pd.DataFrame
    per_person: pd.DataFrame
    confusions: pd.DataFrame
    matrices: dict[tuple[str, str, str], pd.DataFrame]
    classifiers: dict[str, dict[str, Any]]
    split: dict[str, int]


def closed_set(
    embedder: Embedder,
    split: pd.DataFrame,
    views: list[View],
    mixed_levels: list[Degradation],
    copies: int,
    classifier_names: list[str],
    matrix_views: list[str],
    run: Path,
    n_boot: int,
    seed: int,
    top_n: int = 20,
) -> ClosedSetResult:
    """Train every classifier in both regimes on ``split``'s train images and score it on its eval images at every view."""
    train, held_out = split[split["role"] == closedset.TRAIN], split[split["role"] == closedset.EVAL]
    people, truth = np.unique(train["identity"]), held_out["identity"].to_numpy()
    eval_vectors = embedder.vectors(held_out, views)
    rows, reports, confusions, matrices, saved = [], [], [], {}, {}
    for regime, (x, y, groups) in training_sets(embedder, train, mixed_levels, copies, seed).items():
        for name in progress(classifier_names, f"classifiers ({regime})", total=len(classifier_names)):
            model, chosen = closedset.fit_classifier(closedset.CLASSIFIERS[name], x, y, groups, seed)
            file = run / CLASSIFIER_FOLDER / f"{regime}-{name}.skops"
            saved[f"{regime}/{name}"] = chosen | {
                "file": f"{CLASSIFIER_FOLDER}/{file.name}",
                "sha256": save_classifier(model, file),
                "training_samples": len(y),
            }
            for view in views:
                vectors, acquired = eval_vectors[view_name(view)]
                predicted = closedset.predict(model, vectors, acquired)
                keys = {"regime": regime, "classifier": name, **view_row(view)}
                accuracy = person_rate(predicted == truth, truth, n_boot, seed)
                rows.append(
                    keys
                    | closedset.scores(truth, predicted, people)
                    | _interval("accuracy", accuracy)
                    | {"probes": len(truth), "not_acquired": int((~acquired).sum())}
                )
                reports.append(closedset.per_class(truth, predicted, people).assign(**keys))
                confusions.append(closedset.top_confusions(truth, predicted, top_n).assign(**keys))
                if view_name(view) in matrix_views:
                    matrices[(regime, name, view_name(view))] = closedset.confusion(truth, predicted, people)
    sizes = {"people": len(people), "train_images": len(train), "eval_images": len(held_out)}
    return ClosedSetResult(pd.DataFrame(rows), pd.concat(reports, ignore_index=True), pd.concat(confusions, ignore_index=True), matrices, saved, sizes)


def _interval(name: str, rate: dict[str, Any]) -> dict[str, Any]:
    return {f"{name}_ci_low": rate["ci_low"], f"{name}_ci_high": rate["ci_high"]}


@dataclass
class OpenSetResult:
    """Open-set outputs: one row per view, the CMC of every view, and the test DIR-FPIR curves."""

    results: pd.DataFrame
    cmc: pd.DataFrame
    curves: pd.DataFrame
    sizes: dict[str, int]


def _probes(vectors: dict[str, tuple[np.ndarray, np.ndarray]], name: str, mask: np.ndarray, people: np.ndarray) -> openset.Probes:
    embeddings, acquired = vectors[name]
    return openset.Probes(embeddings[mask], people[mask], acquired[mask])


def open_set(
    embedder: Embedder,
    test: pd.DataFrame,
    val: pd.DataFrame,
    views: list[View],
    target_fpir: float,
    calibration_weights: str,
    n_boot: int,
    seed: int,
) -> OpenSetResult:
    """Search every view's probes against the HQ gallery of ``test`` (roles from :func:`helpers.identification.openset.enrol`).

    Thresholds come from ``val`` people (none enrolled: every search is non-mated) searched against the same gallery,
    weighted by :func:`helpers.identification.openset.calibration_weights`: ``matched`` at each view's own val probes
    (NaN at an end-to-end view notebook 01 did not acquire val at), ``fixed`` at HQ val probes and applied to every view.
    """
    gallery_images = test[test["role"] == openset.GALLERY]
    gallery = Gallery.of(embedder.vectors(gallery_images, [view_of(HQ, ORACLE)])["HQ"][0], gallery_images["identity"].to_numpy())
    probes = test[test["role"] != openset.GALLERY]
    known, people = (probes["role"] == openset.KNOWN).to_numpy(), probes["identity"].to_numpy()
    test_vectors, val_vectors = embedder.vectors(probes, views), embedder.vectors(val, [view for view in views if embedder.covers(val, view)])
    everyone, val_people = np.ones(len(val), dtype=bool), val["identity"].to_numpy()
    weights = openset.calibration_weights(val_people, calibration_weights)
    fixed = None
    rows, cmcs, curves = [], [], []
    for view in views:
        name = view_name(view)
        searched = openset.run_search(gallery, _probes(test_vectors, name, known, people), _probes(test_vectors, name, ~known, people))
        calibrated = name in val_vectors
        matched = (
            openset.threshold_at_fpir(openset.best_scores(gallery, _probes(val_vectors, name, everyone, val_people)), target_fpir, weights)
            if calibrated
            else math.nan
        )
        fixed = matched if fixed is None else fixed
        row = view_row(view) | _open_row(searched, {"matched": matched, "fixed": fixed}, n_boot, seed)
        rows.append(row | {"val_probes": len(val) if calibrated else 0, "val_alarm_budget": target_fpir * weights.sum()})
        max_rank = min(len(gallery), 50)
        cmcs.append(pd.DataFrame({"rank": np.arange(1, max_rank + 1), "identification_rate": cmc(searched.known_ranks, max_rank)}).assign(view=name))
        curves.append(openset.dir_fpir_curve(searched).assign(view=name))
    sizes = {
        "gallery_people": len(gallery),
        "gallery_images": len(gallery_images),
        "known_probes": int(known.sum()),
        "unknown_probes": int((~known).sum()),
        "unknown_people": int(probes.loc[~known, "identity"].nunique()),
        "calibration_probes": len(val),
        "calibration_people": int(val["identity"].nunique()),
    }
    return OpenSetResult(pd.DataFrame(rows), pd.concat(cmcs, ignore_index=True), pd.concat(curves, ignore_index=True), sizes)


def _open_row(searched: openset.Searched, thresholds: dict[str, float], n_boot: int, seed: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    rank1 = person_rate(searched.known_ranks <= 1, searched.known_people, n_boot, seed)
    row |= {"rank1": rank1["value"]} | _interval("rank1", rank1)
    row |= {f"rank{k}": float(np.mean(searched.known_ranks <= k)) for k in openset.RANKS if k > 1}  # without intervals
    for kind, threshold in thresholds.items():
        if math.isnan(threshold):  # no val probes at this view: nothing to read at it
            row |= {f"threshold_{kind}": math.nan} | {f"{rate}_{kind}{end}": math.nan for rate in ("dir", "fpir") for end in ("", "_ci_low", "_ci_high")}
            continue
        detected = person_rate(openset.dir_at(searched, threshold), searched.known_people, n_boot, seed)
        alarms = person_rate(searched.unknown_top >= threshold, searched.unknown_people, n_boot, seed)
        row |= {
            f"threshold_{kind}": threshold,
            f"dir_{kind}": detected["value"],
            **_interval(f"dir_{kind}", detected),
            f"fpir_{kind}": alarms["value"],
            **_interval(f"fpir_{kind}", alarms),
        }
    return row | {"known_not_acquired": int((~searched.known_acquired).sum()), "unknown_not_acquired": int((~searched.unknown_acquired).sum())}


def pick_levels(levels: tuple[Degradation, ...], names: list[str] | None, parameter: str) -> list[Degradation]:
    """The levels named (all when ``names`` is None); an unknown name stops with the valid ones."""
    if names is None:
        return list(levels)
    known = {level.name: level for level in levels}
    if unknown := [name for name in names if name not in known]:
        raise ValueError(f"{parameter}: no level named {unknown} in notebook 01's levels.json; valid: {sorted(known)}")
    return [known[name] for name in names]


def highlights(headline: str, names: list[str], chosen: list[str] | None) -> list[str]:
    """The views drawn in CMC, DIR-FPIR and confusion figures: ``chosen``, or HQ, the headline view and its oracle twin."""
    wanted = chosen or ["HQ", headline.removeprefix(E2E_PREFIX), headline]
    if unknown := [view for view in wanted if view not in names]:
        raise ValueError(f"highlight_views / primary_condition: no view {unknown} here; views: {names}")
    return list(dict.fromkeys(wanted))


def real_benchmarks(requested: dict[str, str | None], recogniser: FaceRecogniser, flip: bool) -> dict[str, Any]:
    """Each requested real benchmark evaluated; for every other set, its folder if present, else where to put it."""
    outcomes: dict[str, Any] = {name: str(where) for name, where in realsets.available_benchmarks().items() if name not in requested}
    for name, path in requested.items():
        outcomes[name] = realsets.evaluate_benchmark(name, recogniser, flip, path=path)
    return outcomes


def tables(closed: ClosedSetResult, opened: OpenSetResult) -> dict[str, pd.DataFrame]:
    """The tables written as CSV, by file stem."""
    return {
        "closed_set": closed.results,
        "per_person": closed.per_person,
        "top_confusions": closed.confusions,
        "open_set": opened.results,
        "cmc": opened.cmc,
        "dir_fpir": opened.curves,
    }


def identification_report(
    model: dict[str, Any],
    settings: dict[str, Any],
    closed: ClosedSetResult,
    opened: OpenSetResult,
    target_fpir: float,
    headline: str,
    headline_classifier: str,
    real: dict[str, Any],
    protocol: str,
) -> dict[str, Any]:
    """``metrics.json`` without its row tables (:func:`helpers.identification.report.save_outputs` adds them)."""
    return {
        "model": model,
        "protocol": protocol,
        "settings": settings,
        "headline_view": headline,
        "headline_classifier": headline_classifier,
        "closed_set": {"split": closed.split, "classifiers": closed.classifiers},
        "open_set": {"sizes": opened.sizes, "target_fpir": target_fpir},
        "benchmarks": real,
    }
