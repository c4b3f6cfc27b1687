"""Quality measures ranked by pAUC-EDC at the run's one operating threshold, per condition, with two-way identity-bootstrap
intervals (:mod:`helpers.evaluation.bootstrap`): each resample draws test people, weighs the pairs by them, and reads the
errors at the threshold re-derived on resampled val people, so an interval carries the threshold's noise too.

Two error rates, as the protocol defines them at the threshold: ``frr`` over every genuine pair, a failure to acquire
counting as a rejection (its face has the lowest quality, so it is discarded first), and ``fmr`` over the impostor
pairs whose faces were both acquired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.evaluation.bootstrap import People, Thresholds, interval
from helpers.evaluation.conditions import Condition
from helpers.evaluation.embeddings import view_of
from helpers.evaluation.metrics import acquired_pairs
from helpers.quality.edc import DISCARD_LIMITS, Edc, best_edc, edc, pair_quality, pauc_edc
from helpers.quality.images import Quality

ERRORS = {
    "frr": "FRR at the operating threshold (genuine pairs; a failure to acquire is a rejection)",
    "fmr": "FMR at the operating threshold (impostor pairs with both faces acquired)",
}
"""The error rates an EDC is drawn for, in words."""


def condition_quality(quality: Quality, scores: pd.DataFrame, condition: Condition, measure: str, split: str = "test") -> np.ndarray | None:
    """Each pair's quality at ``condition`` (the lower of its two faces'), a face without a value the lowest (-inf);
    None when the measure is undefined for a whole side (e.g. the detector's confidence of an oracle level)."""
    sides = []
    for level, paths in ((condition.level_a, scores["path_a"]), (condition.level_b, scores["path_b"])):
        values = quality.values(split, view_of(level, condition.mode), measure, paths.astype(str).to_numpy())
        if np.isnan(values).all():
            return None
        sides.append(np.nan_to_num(values, nan=-np.inf))
    return pair_quality(*sides)


def kind_pairs(values: np.ndarray, same: np.ndarray, kind: str) -> np.ndarray:
    """The pairs an error rate counts: every genuine pair (``frr``), or the acquired impostor pairs (``fmr``)."""
    return same if kind == "frr" else ~same & acquired_pairs(values)


def errors_of(values: np.ndarray, threshold: float, kind: str) -> np.ndarray:
    """The errors at ``threshold`` among pairs of one kind: genuine pairs below it, or impostor pairs at or above it."""
    return values < threshold if kind == "frr" else values >= threshold


@dataclass(frozen=True)
class ConditionEdc:
    """One condition's EDC curves at the operating threshold: per error rate, each measure's curve and the theoretical best."""

    condition: str
    curves: dict[str, dict[str, Edc]]
    best: dict[str, Edc]
    start: dict[str, float]


def condition_edc(quality: Quality, scores: pd.DataFrame, condition: Condition, measures: Sequence[str], threshold: float) -> ConditionEdc:
    """Every measure's EDC at ``condition``, for both error rates (measures undefined at the condition left out)."""
    values, same = scores[condition.name].to_numpy(dtype=float), scores["same"].to_numpy(dtype=bool)
    qualities = {m: q for m in measures if (q := condition_quality(quality, scores, condition, m)) is not None}
    curves, best, start = {}, {}, {}
    for kind in ERRORS:
        chosen = kind_pairs(values, same, kind)
        errors = errors_of(values[chosen], threshold, kind)
        curves[kind] = {m: edc(q[chosen], errors) for m, q in qualities.items()}
        best[kind], start[kind] = best_edc(errors), float(errors.mean())
    return ConditionEdc(condition.name, curves, best, start)


def pauc_table(
    quality: Quality,
    scores: pd.DataFrame,
    conditions: Sequence[Condition],
    measures: Sequence[str],
    people: People,
    thresholds: Thresholds,
    seed: int,
    limits: Sequence[float] = DISCARD_LIMITS,
) -> pd.DataFrame:
    """pAUC-EDC of every measure at every condition, error rate and discard limit, with 95% two-way bootstrap intervals.

    Columns: condition, error, measure, limit, pauc, ci_low, ci_high, error_at_start (no discard), pairs, errors.
    """
    rows = []
    same = scores["same"].to_numpy(dtype=bool)
    for condition in conditions:
        values = scores[condition.name].to_numpy(dtype=float)
        qualities = {m: q for m in measures if (q := condition_quality(quality, scores, condition, m)) is not None}
        for kind in ERRORS:
            chosen = kind_pairs(values, same, kind)
            if not chosen.any():
                continue
            resampled = _resampled({m: q[chosen] for m, q in qualities.items()}, values[chosen], people.subset(chosen), thresholds, kind, seed, limits)
            errors = errors_of(values[chosen], thresholds.point, kind)
            for measure, q in qualities.items():
                for j, limit in enumerate(limits):
                    low, high = interval(resampled[measure][:, j])
                    rows.append(
                        {"condition": condition.name, "error": kind, "measure": measure, "limit": limit, "pauc": pauc_edc(q[chosen], errors, limit)}
                        | {"ci_low": low, "ci_high": high, "error_at_start": float(errors.mean()), "pairs": int(chosen.sum()), "errors": int(errors.sum())}
                    )
    return pd.DataFrame(rows, columns=["condition", "error", "measure", "limit", "pauc", "ci_low", "ci_high", "error_at_start", "pairs", "errors"])


def _resampled(
    qualities: dict[str, np.ndarray], values: np.ndarray, people: People, thresholds: Thresholds, kind: str, seed: int, limits: Sequence[float]
) -> dict[str, np.ndarray]:
    """pAUC-EDC of each measure in each two-way resample (rows) at each limit (columns); NaN where a resample has no pair."""
    rng = np.random.default_rng(seed)
    found = {measure: np.full((thresholds.n_boot, len(limits)), np.nan) for measure in qualities}
    orders = {measure: np.argsort(q, kind="stable") for measure, q in qualities.items()}  # sorted once: each resample's sort is then linear
    for k, at in enumerate(thresholds.resampled):
        weights = people.weights(people.draw(rng)).astype(float)
        if not weights.sum() > 0 or not np.isfinite(at):
            continue
        errors = errors_of(values, at, kind)
        best = best_edc(errors, weights)
        for measure, q in qualities.items():
            order = orders[measure]
            curve = edc(q[order], errors[order], weights[order])
            found[measure][k] = [curve.area(limit) - best.area(limit) for limit in limits]
    return found


def ranking(table: pd.DataFrame, condition: str, error: str = "frr", limit: float = DISCARD_LIMITS[0]) -> pd.DataFrame:
    """The measures at one condition, best (smallest pAUC-EDC) first."""
    rows = table[(table["condition"] == condition) & (table["error"] == error) & (table["limit"] == limit)]
    return rows.sort_values("pauc", kind="stable").reset_index(drop=True)
