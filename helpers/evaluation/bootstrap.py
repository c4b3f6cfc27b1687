"""Intervals and tests that resample people, not pairs: the two-way identity bootstrap and its p-values under the null.

Pairs share people: a genuine pair involves one person, an impostor pair two,
and each image is reused in many pairs. A resample draws the people of the
split with replacement (``counts[p]`` times person ``p``) and weighs every pair
by what it depends on: a genuine pair by its person's count, an impostor pair by
the product of both people's counts (the two-way, or crossed, bootstrap). The
statistics are recomputed on the weighted pairs from one
:class:`~helpers.evaluation.metrics.RankedScores` sort.

Statistics at the operating threshold carry the threshold's own noise: each resample reads them at
a threshold re-derived on a resample of the val people (:class:`Thresholds`,
:mod:`helpers.evaluation.thresholds`), drawn independently of the test people.

Paired model differences resample both models' scores with the same weights;
their p-values come from the same resamples centred on the null (no
difference), never from inverting the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from helpers.evaluation.metrics import RankedScores, Roc, finite_or_none
from helpers.evaluation.people import kish, pair_keys

Measure = Callable[[Roc | None, float], np.ndarray]
"""Statistics of one ROC curve at an operating threshold as a vector (NaN where the curve is None or a statistic undefined)."""

MIN_VALID_SHARE = 0.9
"""An interval is given only when at least this share of resamples yields a finite statistic."""
METHOD = (
    "two-way identity bootstrap: test people resampled, genuine pairs weighted by their person's count, impostor pairs by "
    "the product of both; statistics at the operating threshold read at a threshold re-derived on val people resampled alike"
)
TEST = "two-way identity bootstrap under the null: resampled differences centred on zero"
TIE = 1e-12
"""Differences smaller than this are floating-point noise: equal statistics."""


@dataclass(frozen=True)
class People:
    """Which people each pair involves, as integer codes: the units every resample draws."""

    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    count: int

    @cached_property
    def partner(self) -> np.ndarray:
        """The person a pair's weight multiplies by: ``b`` for impostor pairs, for genuine pairs ``count``, a stand-in drawn once."""
        return np.where(self.same, self.count, self.b)

    @classmethod
    def of(cls, same: npt.ArrayLike, identity_a: npt.ArrayLike, identity_b: npt.ArrayLike) -> People:
        """Codes for the identities, after checking that genuine pairs are exactly those of one person."""
        labels, first, second = np.asarray(same).astype(bool), np.asarray(identity_a), np.asarray(identity_b)
        if first.shape != labels.shape or second.shape != labels.shape:
            raise ValueError(f"need one identity_a and identity_b per pair ({labels.size}), got shapes {first.shape} and {second.shape}")
        if not np.array_equal(first == second, labels):
            raise ValueError("same must be true exactly for the pairs whose identity_a equals identity_b")
        names, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
        return cls(codes[: labels.size], codes[labels.size :], labels, len(names))

    def impostor_units(self) -> float:
        """The effective number of pairs of people behind the impostor pairs (Kish, over each pair of people's image
        pairs): the rule of 30's unit for FMR and TAR. A pair of people with many image pairs counts for more, never as many."""
        impostor = ~self.same
        return kish(np.unique(pair_keys(self.a[impostor], self.b[impostor], self.count), return_counts=True)[1])

    def genuine_units(self) -> float:
        """The effective number of people behind the genuine pairs (Kish): the rule of 30's unit for FNMR and FRR."""
        return kish(np.bincount(self.a[self.same], minlength=self.count))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """How often each person is drawn in one resample of as many people as there are."""
        return np.bincount(rng.integers(0, self.count, self.count), minlength=self.count)

    def weights(self, counts: np.ndarray) -> np.ndarray:
        """Each pair's weight in a resample: its person's count (genuine) or the product of both (impostor)."""
        drawn = np.append(counts, 1)
        return drawn[self.a] * drawn[self.partner]

    def subset(self, keep: np.ndarray) -> People:
        """The pairs ``keep`` selects, with the same people: a resample draws everyone alike either way."""
        return People(self.a[keep], self.b[keep], self.same[keep], self.count)

    def ranked(self, order: np.ndarray) -> People:
        """The same people with the pairs in ``order`` (a :class:`RankedScores` order)."""
        return People(self.a[order], self.b[order], self.same[order], self.count)


@dataclass(frozen=True)
class Thresholds:
    """The operating threshold (``point``) and its value in each bootstrap resample (``resampled``, one per resample).

    NaN where there is no operating threshold: statistics read at it are then NaN too.
    """

    point: float
    resampled: np.ndarray

    @classmethod
    def fixed(cls, value: float, n_boot: int) -> Thresholds:
        """The same threshold in every resample (no threshold noise: a threshold given, not estimated)."""
        return cls(value, np.full(n_boot, value, dtype=float))

    @property
    def n_boot(self) -> int:
        return int(self.resampled.size)


def _usable(values: np.ndarray) -> np.ndarray | None:
    """The finite values, or None when fewer than :data:`MIN_VALID_SHARE` of them are."""
    finite = values[np.isfinite(values)]
    return finite if finite.size and finite.size >= MIN_VALID_SHARE * values.size else None


def interval(values: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of resampled values at level ``1 - alpha``; NaNs when too few are finite."""
    finite = _usable(values)
    if finite is None:
        return math.nan, math.nan
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def resample(ranked: RankedScores, people: People, measure: Measure, thresholds: Thresholds, seed: int) -> np.ndarray:
    """``measure`` of ``thresholds.n_boot`` two-way resamples, one row each, resample ``k`` read at ``thresholds.resampled[k]``."""
    rng, in_rank = np.random.default_rng(seed), people.ranked(ranked.order)
    return np.array([measure(ranked.ranked_roc(in_rank.weights(people.draw(rng))), at) for at in thresholds.resampled], dtype=float)


def resample_paired(
    first: RankedScores, second: RankedScores, people: People, measures: tuple[Measure, Measure], thresholds: tuple[Thresholds, Thresholds], seed: int
) -> np.ndarray:
    """``measures[1](second) - measures[0](first)`` of two-way resamples, both models weighted alike.

    Two measures and two thresholds, because each model reads its statistics at its own operating
    threshold (re-derived, resample by resample, on the same val people).
    """
    if thresholds[0].n_boot != thresholds[1].n_boot:
        raise ValueError(f"both models need as many resampled thresholds, got {thresholds[0].n_boot} and {thresholds[1].n_boot}")
    rng = np.random.default_rng(seed)
    in_first, in_second = people.ranked(first.order), people.ranked(second.order)
    rows = []
    for at_first, at_second in zip(thresholds[0].resampled, thresholds[1].resampled):
        counts = people.draw(rng)
        after = measures[1](second.ranked_roc(in_second.weights(counts)), at_second)
        rows.append(after - measures[0](first.ranked_roc(in_first.weights(counts)), at_first))
    return np.array(rows, dtype=float)


def null_p(resampled: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value under the null, per statistic (column of ``resampled``).

    The resampled differences are centred on zero (the null: no difference, same
    spread) and the p-value is ``(1 + k) / (1 + n)``, ``k`` the centred
    resamples at least as far from zero as ``observed``: never 0, and 1 for equal models.
    """
    p = np.full(observed.shape, np.nan)
    for k, value in enumerate(observed):
        finite = _usable(resampled[:, k])
        if finite is None or not math.isfinite(value):
            continue
        p[k] = 1.0 if abs(value) < TIE else (1 + np.count_nonzero(np.abs(finite - value) >= abs(value) - TIE)) / (1 + finite.size)
    return p


def holm(p_values: npt.ArrayLike) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaNs stay NaN and do not count in the family)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def interval_entry(value: float, bounds: tuple[float, float]) -> dict[str, Any]:
    """``{"value", "ci"}`` as metrics.json stores a statistic; an undefined bound makes the CI None."""
    low, high = (finite_or_none(bound) for bound in bounds)
    return {"value": finite_or_none(value), "ci": None if low is None or high is None else [low, high]}
