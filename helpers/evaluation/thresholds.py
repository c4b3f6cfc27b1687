"""The one operating threshold: fixed on val, checked for support, and re-derived for every bootstrap resample.

NIST style, the threshold sits where the val split's HQ-HQ impostor pairs are accepted at the target
FMR, each pair of people weighing the same (``person`` weighting, :mod:`helpers.evaluation.people`) or
each image pair, and every test condition is read at it. Val must support it: by the rule of 30
counted in pairs of people (:func:`~helpers.evaluation.metrics.estimable`), a target FMR ``f`` needs
``30 / f`` effective pairs of val people (under person weighting, simply pairs of val people). With fewer, the threshold moves to the smallest FMR val
supports (rounded up to one significant digit), provided that is at most :data:`MAX_FMR`; beyond it
there is no operating point, and every statistic read at one is missing. Intervals carry the
threshold's own noise: :func:`resampled_thresholds` re-derives it on resamples of the val people,
drawn apart from the test people's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.split import SPLIT_ADVICE
from helpers.evaluation.bootstrap import People, Thresholds
from helpers.evaluation.conditions import HQ_CONDITION
from helpers.evaluation.metrics import RULE_OF_30, ImpostorLadder, min_units
from helpers.evaluation.people import effective_pairs_of_people, pair_weights

MAX_FMR = 0.1
"""An operating point that accepts more than one impostor in ten is no operating point: beyond it, none is given."""
SUPPORTED, MOVED, UNAVAILABLE = "supported", "moved", "unavailable"
VAL_STREAM = 1
"""The val people's draws come from ``default_rng((seed, VAL_STREAM))``, apart from the test people's ``default_rng(seed)``."""


def round_up(value: float) -> float:
    """``value`` rounded up to one significant digit: 0.0476 -> 0.05, 0.2 -> 0.2."""
    scale = 10.0 ** math.floor(math.log10(value))
    return math.ceil(round(value / scale, 9)) * scale


def min_val_people(fmr: float = MAX_FMR) -> int:
    """The fewest val people whose pairs (each pair of people once) can support ``fmr``: 25 for :data:`MAX_FMR`."""
    return math.ceil((1 + math.sqrt(1 + 8 * min_units(fmr))) / 2)


def supported_fmr(target: float, units: float) -> tuple[float | None, str]:
    """The FMR the operating threshold is set at, and whether ``units`` pairs of val people support ``target``
    (``supported``), only a larger FMR up to :data:`MAX_FMR` (``moved``), or none (``unavailable``: None)."""
    if units >= min_units(target) - 1e-6:
        return target, SUPPORTED
    if units <= 0:
        return None, UNAVAILABLE
    smallest = round(round_up(RULE_OF_30 / units), 12)
    return (smallest, MOVED) if smallest <= MAX_FMR else (None, UNAVAILABLE)


@dataclass(frozen=True)
class ValImpostors:
    """The val split's HQ-HQ scores ready for thresholds: impostor scores ranked once, each pair's base weight, the people."""

    ladder: ImpostorLadder
    weights: np.ndarray  # per impostor pair, under the weighting
    people: People
    units: float  # effective pairs of people behind the weighted impostor pairs (person weighting: their number)

    @classmethod
    def of(cls, val_scores: pd.DataFrame, weighting: str) -> ValImpostors:
        same = val_scores["same"].to_numpy().astype(bool)
        a, b = (val_scores[column].astype(str).to_numpy() for column in ("identity_a", "identity_b"))
        weights = pair_weights(a[~same], b[~same], weighting)
        ladder = ImpostorLadder(val_scores[HQ_CONDITION].to_numpy(), same)
        return cls(ladder, weights, People.of(same, a, b), effective_pairs_of_people(a[~same], b[~same], weights))

    def threshold(self, fmr: float, counts: np.ndarray | None = None) -> float:
        """The threshold at ``fmr``; with ``counts`` (a resample's draws of the val people), on that resample."""
        if counts is None:
            return self.ladder.threshold(fmr, self.weights)
        return self.ladder.threshold(fmr, self.weights * self.people.weights(counts)[~self.people.same])


def advice(operating: dict[str, Any]) -> str:
    """What a reader is told when val does not support the declared FMR (empty when it does)."""
    people, units, target = operating["val_people"], operating["val_people_pairs"], operating["fmr_target"]
    if operating["support"] == SUPPORTED:
        return ""
    found = (
        f"val's {people} people form {units:,.0f} pairs of people, fewer than the {min_units(target):,} that FMR {target:g} needs "
        "(30 false matches expected, counted in pairs of people)"
    )
    if operating["support"] == MOVED:
        told = f"{found}: the operating threshold is set at FMR {operating['fmr']:g} instead, the smallest val supports"
    else:
        told = (
            f"{found}, and val cannot support any FMR up to {MAX_FMR:g} (that needs {min_val_people()} people): "
            "no operating threshold, so FMR, FNMR and FRR are unavailable"
        )
    return f"{told}. To fix it in notebook 01, {SPLIT_ADVICE.replace('give it', 'give val')}."


def operating_point(val_scores: pd.DataFrame, fmr: float, weighting: str = "person") -> dict[str, Any]:
    """The one operating threshold: where val HQ-HQ impostor pairs are accepted at ``fmr`` (or the FMR val supports,
    :func:`supported_fmr`), under ``weighting``; ``threshold`` None when val supports no operating point."""
    found = ValImpostors.of(val_scores, weighting)
    used, support = supported_fmr(fmr, found.units)
    same = val_scores["same"].to_numpy().astype(bool)
    threshold = None if used is None else found.ladder.threshold(used, found.weights)
    impostor = val_scores[HQ_CONDITION].to_numpy()[~same]
    accepted = impostor >= threshold if threshold is not None else np.zeros(impostor.size, dtype=bool)
    point = {
        "fmr_target": fmr,
        "fmr": used,
        "support": support,
        "threshold": threshold,
        "set_on": f"val {HQ_CONDITION} impostor pairs",
        "weighting": weighting,
        "val_people": int(found.people.count),
        "val_impostors": int(impostor.size),
        "val_people_pairs": round(found.units, 1),
        "val_false_matches": int(accepted.sum()),
        "val_fmr": float(found.weights[accepted].sum() / found.weights.sum()),
        "val_fmr_pairs": float(accepted.mean()),
    }
    return point | {"advice": advice(point)}


def resampled_thresholds(val_scores: pd.DataFrame, operating: dict[str, Any], n_boot: int, seed: int) -> Thresholds:
    """The operating threshold and its value on ``n_boot`` resamples of the val people (NaN throughout when there is none).

    The same ``val_scores`` and ``seed`` give the same draws for every model, so paired differences
    re-derive both models' thresholds on the same resampled val people.
    """
    if operating["threshold"] is None:
        return Thresholds.fixed(math.nan, n_boot)
    found, rng = ValImpostors.of(val_scores, operating["weighting"]), np.random.default_rng((seed, VAL_STREAM))
    return Thresholds(float(operating["threshold"]), np.array([found.threshold(operating["fmr"], found.people.draw(rng)) for _ in range(n_boot)]))
