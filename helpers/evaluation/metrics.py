"""Face-verification metrics on scored pairs: ROC, AUC, EER, TAR at FAR, error rates at a fixed threshold.

Conventions: ``scores`` are similarities (higher = more alike); ``same`` marks
genuine pairs (1) against impostor pairs (0); a pair is accepted as genuine when
``score >= threshold``. A number the data cannot define (a class missing, too few
impostors for a FAR target) is NaN, never a guess.

:class:`RankedScores` sorts the scores once; every weighting of the pairs (a
bootstrap resample, :mod:`helpers.evaluation.bootstrap`) then gives its ROC curve
in linear time. With unit weights it is scikit-learn's ``roc_curve`` exactly.

Failures to acquire (ISO/IEC 19795-1): a pair with a side the detector did not
acquire scores :data:`FAILED_SCORE`. Rates are computed on the **system-level**
pair set (:func:`system_pairs`): every genuine pair, a failed one rejected at any
threshold (FRR), and only the impostor pairs whose faces were both acquired, so a
failure is never a free correct rejection (FMR, which equals FAR here: impostor
failures are left out of its denominator). The **algorithm-level** FNMR counts
acquired genuine pairs only (:func:`fnmr_acquired_of`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

RULE_OF_30 = 30
"""Doddington's rule of 30: a rate is estimable when at least 30 errors are expected at it."""
REPORT_FARS = (1e-2, 1e-3, 1e-4)
FAILED_SCORE = -2.0
"""The score of a pair with a side the detector failed to acquire: below every cosine similarity, so rejected at any threshold."""
_ACQUIRED_FLOOR = -1.5
"""Between :data:`FAILED_SCORE` and the lowest cosine similarity: pairs scoring below it are failures to acquire."""


class Roc(NamedTuple):
    """A ROC curve from the strictest threshold (``inf``) down: rates are non-decreasing."""

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray


class FoldAccuracy(NamedTuple):
    """k-fold verification accuracy: mean, sample std (ddof=1), and per held-out fold."""

    mean: float
    std: float
    accuracies: list[float]
    thresholds: list[float]


def min_units(rate: float) -> int:
    """Units needed for 30 errors to be expected at ``rate``: ``30 / rate`` (FAR 1e-3 needs 30,000 pairs of people)."""
    if not 0 < rate <= 1:
        raise ValueError(f"an error rate target lies in (0, 1], got {rate}")
    return math.ceil(round(RULE_OF_30 / rate, 6))


def estimable(units: float, rate: float) -> bool:
    """The rule of 30, counted in independent units: whether ``units`` let at least 30 errors be expected at ``rate``.

    Pairs of the same people are not independent, so the units are people, not image pairs: for FMR
    and TAR at a FAR, the effective number of pairs of people behind the impostor pairs (Kish, over each
    pair of people's weight); for FNMR and FRR, the effective number of people behind the genuine pairs
    (:meth:`helpers.evaluation.bootstrap.People.impostor_units`).
    """
    return rate > 0 and units >= min_units(rate) - 1e-6


def far_key(far: float) -> str:
    """How a FAR target keys ``tar_at_far`` in a report: ``1e-03``."""
    return f"{far:.0e}"


def checked_pairs(scores: npt.ArrayLike, same: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Scores as floats and labels as booleans, checked to be matching, non-empty, finite 1-D arrays."""
    values, labels = np.asarray(scores, dtype=float), np.asarray(same)
    if values.ndim != 1 or labels.shape != values.shape or values.size == 0:
        raise ValueError(f"scores and same must be non-empty 1-D arrays of one length, got shapes {values.shape} and {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("same must hold booleans or 0/1 (1 = genuine pair)")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite")
    return values, labels.astype(bool)


class RankedScores:
    """Scored pairs sorted once from the highest score down, ready for a ROC curve under any pair weights."""

    def __init__(self, scores: npt.ArrayLike, same: npt.ArrayLike) -> None:
        values, self.same = checked_pairs(scores, same)
        self.order = np.argsort(-values, kind="stable")
        self.values = values[self.order]
        self.genuine = self.same[self.order]
        self.ends = np.flatnonzero(np.r_[self.values[1:] != self.values[:-1], True])  # the last pair of each distinct score
        self.thresholds = np.r_[np.inf, self.values[self.ends]]
        self._genuine_at = np.flatnonzero(self.genuine)  # ranks of the genuine pairs
        self._genuine_up_to = np.searchsorted(self._genuine_at, self.ends, side="right")  # genuine pairs ranked at or above each end

    @property
    def n_impostor(self) -> int:
        return int((~self.same).sum())

    def roc(self, weights: np.ndarray | None = None) -> Roc | None:
        """The ROC curve with each pair counted ``weights[pair]`` (whole) times; None when a class has no weight."""
        return self.ranked_roc(None if weights is None else np.asarray(weights)[self.order])

    def ranked_roc(self, weights: np.ndarray | None) -> Roc | None:
        """:meth:`roc` with whole-number weights already in rank order (``weights[k]`` for pair ``order[k]``)."""
        w = np.ones(self.order.size, dtype=np.int64) if weights is None else weights.astype(np.int64, copy=False)
        total = np.cumsum(w)[self.ends]
        genuine = np.concatenate(([0], np.cumsum(w[self._genuine_at])))[self._genuine_up_to]  # genuine pairs are few: sum them apart
        impostor = total - genuine
        if genuine[-1] <= 0 or impostor[-1] <= 0:
            return None
        far, tar = np.zeros(impostor.size + 1), np.zeros(genuine.size + 1)
        np.divide(impostor, impostor[-1], out=far[1:])
        np.divide(genuine, genuine[-1], out=tar[1:])
        return Roc(far, tar, self.thresholds)


def auc_of(curve: Roc) -> float:
    """Area under the curve by the trapezoid rule (scikit-learn's ``auc`` on the same points)."""
    return float(np.trapezoid(curve.tar, curve.far))


def eer_of(curve: Roc) -> float:
    """Where FAR meets FRR = 1 - TAR, interpolating linearly between the ROC points around the crossing."""
    gap = curve.far - (1 - curve.tar)  # non-decreasing from -1 to 1
    i = int(np.searchsorted(gap, 0.0, side="left"))
    weight = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(curve.far[i - 1] + weight * (curve.far[i] - curve.far[i - 1]))


def tar_of(curve: Roc, far: float) -> float:
    """TAR at the last ROC point whose FAR does not exceed ``far`` (no interpolation towards the target)."""
    return float(curve.tar[np.searchsorted(curve.far, far, side="right") - 1])


def _point_at(curve: Roc, threshold: float) -> int:
    """The ROC point of ``score >= threshold``: the one with the lowest curve threshold still >= ``threshold``."""
    return int(np.searchsorted(-curve.thresholds, -threshold, side="right")) - 1


def fmr_of(curve: Roc, threshold: float) -> float:
    """False match rate: the share of impostor pairs scoring >= ``threshold``."""
    return float(curve.far[_point_at(curve, threshold)])


def fnmr_of(curve: Roc, threshold: float) -> float:
    """False non-match rate: the share of genuine pairs scoring below ``threshold``."""
    return float(1 - curve.tar[_point_at(curve, threshold)])


def fnmr_acquired_of(curve: Roc, threshold: float) -> float:
    """Algorithm-level false non-match rate: the share of acquired genuine pairs scoring below ``threshold``
    (genuine pairs scoring :data:`FAILED_SCORE` left out); NaN when no genuine pair was acquired."""
    failed = fnmr_of(curve, _ACQUIRED_FLOOR)
    return (fnmr_of(curve, threshold) - failed) / (1 - failed) if failed < 1 else math.nan


def acquired_pairs(scores: npt.ArrayLike) -> np.ndarray:
    """Mask of the pairs whose faces were both acquired (scored above :data:`FAILED_SCORE`)."""
    return np.asarray(scores, dtype=float) > _ACQUIRED_FLOOR


def system_pairs(scores: npt.ArrayLike, same: npt.ArrayLike) -> np.ndarray:
    """Mask of the pairs system-level rates count: every genuine pair, and the impostor pairs whose faces were both acquired."""
    return np.asarray(same).astype(bool) | acquired_pairs(scores)


def roc(scores: npt.ArrayLike, same: npt.ArrayLike) -> Roc:
    """ROC curve ``(far, tar, thresholds)``, every distinct threshold kept (scikit-learn's ``roc_curve``)."""
    curve = RankedScores(scores, same).roc()
    if curve is None:
        raise ValueError("a ROC curve needs both genuine and impostor pairs")
    return curve


def auc(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Area under the ROC curve (equal to scikit-learn's ``roc_auc_score``); NaN when a class is missing."""
    curve = RankedScores(scores, same).roc()
    return auc_of(curve) if curve is not None else math.nan


def eer(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Equal error rate: FAR where it crosses FRR, linearly interpolated on the ROC curve."""
    curve = RankedScores(scores, same).roc()
    return eer_of(curve) if curve is not None else math.nan


def tar_at_far(scores: npt.ArrayLike, same: npt.ArrayLike, far: float) -> float:
    """TAR at the most lenient threshold whose FAR is still <= ``far``; NaN when a class is missing or the impostor pairs
    are too few for the rule of 30 even if each were independent (with identities, judge by :func:`estimable` in pairs of people)."""
    ranked = RankedScores(scores, same)
    curve = ranked.roc()
    return tar_of(curve, far) if curve is not None and estimable(ranked.n_impostor, far) else math.nan


class ImpostorLadder:
    """Impostor scores sorted once into distinct values from the highest down: the threshold at an FMR under any weights.

    The threshold sits just above an impostor score, in the scores' own floating-point precision
    (float32 for ``scores.parquet``), so ties at it are rejected together and the threshold compares
    exactly with the stored scores. A bootstrap re-derives it once per resample from new weights.
    """

    def __init__(self, scores: npt.ArrayLike, same: npt.ArrayLike) -> None:
        given = np.asarray(scores)
        self.precision = given.dtype.type if np.issubdtype(given.dtype, np.floating) else np.float64
        values, labels = checked_pairs(given, same)
        if labels.all():
            raise ValueError("a threshold at a false match rate needs impostor pairs")
        distinct, codes = np.unique(values[~labels], return_inverse=True)
        self.impostor = ~labels
        self.distinct, self.codes = distinct[::-1], distinct.size - 1 - codes  # from the highest score down

    def threshold(self, fmr: float, weights: npt.ArrayLike | None = None) -> float:
        """The lowest threshold at which no more than ``fmr`` of the impostor pairs' weight is accepted (``score >= t``).

        ``weights``: one non-negative number per impostor pair, in the order given; unit weights allow
        ``floor(fmr * impostors)`` false matches.
        """
        weight = None if weights is None else np.asarray(weights, dtype=np.float64)
        if weight is not None and (weight.shape != self.codes.shape or (weight < 0).any()):
            raise ValueError(f"weights must be one non-negative number per impostor pair ({self.codes.size}), got shape {weight.shape}")
        mass = np.bincount(self.codes, weights=weight, minlength=self.distinct.size)
        total = mass.sum()
        budget = round(fmr * total, 9) + 1e-9 * total  # the tolerance keeps whole counts exact under summation error
        if total <= budget:
            return float(self.distinct[-1])
        above = np.cumsum(mass) - mass  # weight strictly above each score
        return float(np.nextafter(self.precision(self.distinct[np.flatnonzero(above <= budget)[-1]]), self.precision(np.inf)))


def threshold_at_fmr(scores: npt.ArrayLike, same: npt.ArrayLike, fmr: float, weights: npt.ArrayLike | None = None) -> float:
    """The lowest threshold at which no more than ``fmr`` of the impostor pairs (with ``weights``, one per pair, of
    their weight) are accepted (``score >= t``): :meth:`ImpostorLadder.threshold`."""
    ladder = ImpostorLadder(scores, same)
    if weights is None:
        return ladder.threshold(fmr)
    weight = np.asarray(weights, dtype=np.float64)
    if weight.shape != ladder.impostor.shape:
        raise ValueError(f"weights must be one non-negative number per pair ({ladder.impostor.size}), got shape {weight.shape}")
    return ladder.threshold(fmr, weight[ladder.impostor])


def _candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """The lowest score (accept all), midpoints between distinct scores, and just above the highest (reject all)."""
    distinct = np.unique(scores)
    return np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2, [np.nextafter(distinct[-1], np.inf)]])


def _accepted(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: genuine pairs accepted and impostor pairs rejected by ``score >= t``."""
    genuine, impostor = np.sort(scores[same]), np.sort(scores[~same])
    return genuine.size - np.searchsorted(genuine, thresholds, side="left"), np.searchsorted(impostor, thresholds, side="left")


def _accuracies(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Share of pairs classified correctly by ``score >= t``, for each threshold ``t``."""
    accepted, rejected = _accepted(scores, same, thresholds)
    return (accepted + rejected) / scores.size


def _balanced_accuracies(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``1 - (FMR + FNMR) / 2`` for each threshold: accuracy with genuine and impostor pairs weighted equally."""
    accepted, rejected = _accepted(scores, same, thresholds)
    return (accepted / max(1, same.sum()) + rejected / max(1, (~same).sum())) / 2


def best_threshold(scores: npt.ArrayLike, same: npt.ArrayLike, balanced: bool = False) -> float:
    """Accuracy-maximising threshold on training or validation pairs (never test); ties go to the lowest.

    ``balanced`` maximises balanced accuracy instead, for pair sets with far more impostors than genuine pairs.
    """
    values, labels = checked_pairs(scores, same)
    candidates = _candidate_thresholds(values)
    score = _balanced_accuracies if balanced else _accuracies
    return float(candidates[np.argmax(score(values, labels, candidates))])


def kfold_accuracy(scores: npt.ArrayLike, same: npt.ArrayLike, folds: Sequence[int]) -> FoldAccuracy:
    """Accuracy on each held-out fold at the :func:`best_threshold` of the other folds (e.g. LFW View 2's official folds)."""
    values, labels = checked_pairs(scores, same)
    ids = np.asarray(folds)
    if ids.shape != labels.shape or np.unique(ids).size < 2:
        raise ValueError(f"need one fold id per pair and at least two folds, got shape {ids.shape} for {labels.size} pairs")
    accuracies, thresholds = [], []
    for fold in np.unique(ids):
        held_out = ids == fold
        threshold = best_threshold(values[~held_out], labels[~held_out])
        thresholds.append(threshold)
        accuracies.append(float(_accuracies(values[held_out], labels[held_out], np.array([threshold]))[0]))
    return FoldAccuracy(float(np.mean(accuracies)), float(np.std(accuracies, ddof=1)), accuracies, thresholds)


def person_kfold_accuracy(
    scores: npt.ArrayLike, same: npt.ArrayLike, person_a: np.ndarray, person_b: np.ndarray, n_folds: int = 10, seed: int = 0
) -> FoldAccuracy:
    """Balanced accuracy in folds of people: each fold's threshold comes from pairs of other people only.

    People (integer codes) are dealt into ``n_folds`` seeded folds. A pair is
    held out with the fold of its first person; the threshold is the
    balanced-accuracy optimum on the pairs that involve no held-out person.
    """
    values, labels = checked_pairs(scores, same)
    people = int(max(person_a.max(), person_b.max())) + 1
    fold_of = np.random.default_rng(seed).permutation(people) % n_folds
    fold_a, fold_b = fold_of[person_a], fold_of[person_b]
    accuracies, thresholds = [], []
    for fold in range(n_folds):
        held_out, training = fold_a == fold, (fold_a != fold) & (fold_b != fold)
        if not (labels[held_out].any() and (~labels[held_out]).any() and labels[training].any() and (~labels[training]).any()):
            continue
        threshold = best_threshold(values[training], labels[training], balanced=True)
        thresholds.append(threshold)
        accuracies.append(float(_balanced_accuracies(values[held_out], labels[held_out], np.array([threshold]))[0]))
    if len(accuracies) < 2:
        return FoldAccuracy(math.nan, math.nan, accuracies, thresholds)
    return FoldAccuracy(float(np.mean(accuracies)), float(np.std(accuracies, ddof=1)), accuracies, thresholds)


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None (JSON null) when it is NaN or infinite."""
    return float(value) if math.isfinite(value) else None
