"""Face-verification metrics on scored pairs, with identity-clustered bootstrap intervals.

Conventions: ``scores`` are similarities (higher = more alike); ``same`` marks
genuine pairs (1) against impostor pairs (0); a pair is accepted as genuine when
``score >= threshold``. A number the data cannot define (a class missing, too few
impostors for a FAR target, too few usable resamples) is NaN, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sklearn import metrics as skm
from sklearn.model_selection import StratifiedKFold

Statistic = Callable[[np.ndarray, np.ndarray], float]
"""A metric of ``(scores, same)``, such as :func:`auc` or :func:`eer`."""

MIN_FALSE_ACCEPTS = 10
"""TAR@FAR is estimable only with enough impostors to expect this many false accepts at the target."""
MIN_VALID_SHARE = 0.9
"""A bootstrap interval is given only when at least this share of resamples yields a finite statistic."""
REPORT_FARS = (1e-1, 1e-2, 1e-3, 1e-4)


class Roc(NamedTuple):
    """A ROC curve from the strictest threshold down: rates are non-decreasing."""

    far: np.ndarray
    tar: np.ndarray
    thresholds: np.ndarray


class FoldAccuracy(NamedTuple):
    """k-fold verification accuracy: mean, sample std (ddof=1), and per held-out fold."""

    mean: float
    std: float
    accuracies: list[float]
    thresholds: list[float]


def min_impostors(far: float) -> int:
    """Impostor pairs needed for TAR at ``far`` to be estimable: ``10 / far`` (1e-3 needs 10,000)."""
    if not 0 < far <= 1:
        raise ValueError(f"a FAR target lies in (0, 1], got {far}")
    return math.ceil(round(MIN_FALSE_ACCEPTS / far, 6))


def _pairs(scores: npt.ArrayLike, same: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Scores as floats and labels as booleans, checked to be matching, non-empty 1-D arrays."""
    values, labels = np.asarray(scores, dtype=float), np.asarray(same)
    if values.ndim != 1 or labels.shape != values.shape or values.size == 0:
        raise ValueError(f"scores and same must be non-empty 1-D arrays of one length, got shapes {values.shape} and {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("same must hold booleans or 0/1 (1 = genuine pair)")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite")
    return values, labels.astype(bool)


def _defined_roc(scores: np.ndarray, same: np.ndarray) -> Roc | None:
    """The ROC curve, or None when genuine or impostor pairs are missing (every rate is then undefined)."""
    if not 0 < same.sum() < same.size:
        return None
    return Roc(*skm.roc_curve(same, scores, drop_intermediate=False))


def _auc_of(curve: Roc) -> float:
    return float(skm.auc(curve.far, curve.tar))


def _eer_of(curve: Roc) -> float:
    """Where FAR meets FRR = 1 - TAR, interpolating linearly between the ROC points around the crossing."""
    gap = curve.far - (1 - curve.tar)  # non-decreasing from -1 to 1
    i = int(np.searchsorted(gap, 0.0, side="left"))
    weight = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(curve.far[i - 1] + weight * (curve.far[i] - curve.far[i - 1]))


def _tar_of(curve: Roc, far: float) -> float:
    """TAR at the last ROC point whose FAR does not exceed ``far`` (no interpolation towards the target)."""
    return float(curve.tar[np.searchsorted(curve.far, far, side="right") - 1])


def far_key(far: float) -> str:
    """How a FAR target keys ``tar_at_far`` in a report: ``1e-03``."""
    return f"{far:.0e}"


def roc(scores: npt.ArrayLike, same: npt.ArrayLike) -> Roc:
    """ROC curve ``(far, tar, thresholds)`` from scikit-learn, every threshold kept."""
    values, labels = _pairs(scores, same)
    return Roc(*skm.roc_curve(labels, values, drop_intermediate=False))


def auc(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Area under the ROC curve (scikit-learn's trapezoid, equal to ``roc_auc_score``)."""
    curve = _defined_roc(*_pairs(scores, same))
    return _auc_of(curve) if curve is not None else math.nan


def eer(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Equal error rate: FAR where it crosses FRR, linearly interpolated on the ROC curve."""
    curve = _defined_roc(*_pairs(scores, same))
    return _eer_of(curve) if curve is not None else math.nan


def tar_at_far(scores: npt.ArrayLike, same: npt.ArrayLike, far: float) -> float:
    """TAR at the most lenient threshold whose FAR is still <= ``far``.

    This is the usual conservative reading: the operating point never exceeds
    the FAR target and is not interpolated towards it. NaN when fewer than
    :func:`min_impostors` impostor pairs make the target not estimable.
    """
    values, labels = _pairs(scores, same)
    if (~labels).sum() < min_impostors(far):
        return math.nan
    curve = _defined_roc(values, labels)
    return _tar_of(curve, far) if curve is not None else math.nan


def conservative_tar(scores: npt.ArrayLike, same: npt.ArrayLike, far: float) -> float:
    """:func:`tar_at_far` without the estimability rule (NaN only when a class is missing).

    For bootstrap resamples: estimability is judged once on all pairs, so a
    resample that draws slightly fewer impostors still counts.
    """
    curve = _defined_roc(*_pairs(scores, same))
    return _tar_of(curve, far) if curve is not None else math.nan


def _candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """The lowest score (accept all), midpoints between distinct scores, and just above the highest (reject all)."""
    distinct = np.unique(scores)
    return np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2, [np.nextafter(distinct[-1], np.inf)]])


def _accuracies(scores: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Share of pairs classified correctly by ``score >= t``, for each threshold ``t``."""
    genuine, impostor = np.sort(scores[same]), np.sort(scores[~same])
    accepted = genuine.size - np.searchsorted(genuine, thresholds, side="left")
    rejected = np.searchsorted(impostor, thresholds, side="left")
    return (accepted + rejected) / scores.size


def best_threshold(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Accuracy-maximising threshold on training or validation pairs (never test); ties go to the lowest."""
    values, labels = _pairs(scores, same)
    candidates = _candidate_thresholds(values)
    return float(candidates[np.argmax(_accuracies(values, labels, candidates))])


def _fold_ids(same: np.ndarray, folds: Sequence[int] | None, n_folds: int, seed: int) -> np.ndarray:
    """The given fold of each pair, else seeded, shuffled, class-stratified folds."""
    if folds is None:
        ids = np.empty(same.size, dtype=int)
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for fold, (_, held_out) in enumerate(splitter.split(np.zeros(same.size), same)):
            ids[held_out] = fold
    else:
        ids = np.asarray(folds)
    if ids.shape != same.shape or np.unique(ids).size < 2:
        raise ValueError(f"need one fold id per pair and at least two folds, got shape {ids.shape} for {same.size} pairs")
    return ids


def kfold_accuracy(
    scores: npt.ArrayLike,
    same: npt.ArrayLike,
    folds: Sequence[int] | None = None,
    n_folds: int = 10,
    seed: int = 0,
) -> FoldAccuracy:
    """Accuracy on each held-out fold at the :func:`best_threshold` of the other folds.

    ``folds`` gives each pair's fold (e.g. the official LFW View 2 folds);
    without it, ``n_folds`` stratified folds are drawn with ``seed``. The
    threshold never sees the fold it is scored on.
    """
    values, labels = _pairs(scores, same)
    ids = _fold_ids(labels, folds, n_folds, seed)
    accuracies, thresholds = [], []
    for fold in np.unique(ids):
        held_out = ids == fold
        threshold = best_threshold(values[~held_out], labels[~held_out])
        thresholds.append(threshold)
        accuracies.append(float(_accuracies(values[held_out], labels[held_out], np.array([threshold]))[0]))
    return FoldAccuracy(float(np.mean(accuracies)), float(np.std(accuracies, ddof=1)), accuracies, thresholds)


@dataclass(frozen=True)
class _Clusters:
    """Pairs grouped by cluster, ready to be resampled as whole groups."""

    order: np.ndarray  # pair indices, grouped by cluster
    starts: np.ndarray  # where each cluster's group begins in ``order``
    sizes: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Clusters:
        _, cluster = np.unique(keys, return_inverse=True)
        sizes = np.bincount(cluster)
        return cls(np.argsort(cluster, kind="stable"), np.cumsum(sizes) - sizes, sizes)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Pair indices of one resample: as many clusters as there are, drawn with replacement."""
        drawn = rng.integers(0, self.sizes.size, self.sizes.size)
        sizes = self.sizes[drawn]
        ends = np.cumsum(sizes)
        return self.order[np.arange(ends[-1]) + np.repeat(self.starts[drawn] - (ends - sizes), sizes)]


def _identity_clusters(same: np.ndarray, identity_a: npt.ArrayLike, identity_b: npt.ArrayLike) -> _Clusters:
    """Clusters by ``identity_a``, after checking that genuine pairs are exactly those of one identity."""
    first, second = np.asarray(identity_a), np.asarray(identity_b)
    if first.shape != same.shape or second.shape != same.shape:
        raise ValueError(f"need one identity_a and identity_b per pair ({same.size}), got shapes {first.shape} and {second.shape}")
    if not np.array_equal(first == second, same):
        raise ValueError("same must be true exactly for the pairs whose identity_a equals identity_b")
    return _Clusters.of(first)


def _resample(clusters: _Clusters, statistic: Callable[[np.ndarray], Any], n_boot: int, seed: int) -> np.ndarray:
    """``statistic`` of the pair indices of ``n_boot`` seeded cluster resamples, one row each."""
    rng = np.random.default_rng(seed)
    return np.array([statistic(clusters.sample(rng)) for _ in range(n_boot)], dtype=float)


def _usable(values: np.ndarray) -> np.ndarray | None:
    """The finite resampled values, or None when fewer than :data:`MIN_VALID_SHARE` of them are."""
    finite = values[np.isfinite(values)]
    return finite if finite.size and finite.size >= MIN_VALID_SHARE * values.size else None


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of the resampled values at level ``1 - alpha``; NaNs when too few are finite."""
    finite = _usable(values)
    if finite is None:
        return math.nan, math.nan
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _two_sided_p(diffs: np.ndarray, observed: float) -> float:
    """Twice the share of resampled differences at or across zero from ``observed``, capped at 1.

    The share is ``(k + 1) / (n + 1)``, so a finite bootstrap never claims p = 0.
    """
    finite = _usable(diffs)
    if finite is None or not math.isfinite(observed):
        return math.nan
    if observed == 0:
        return 1.0
    across = np.count_nonzero(finite <= 0 if observed > 0 else finite >= 0)
    return min(1.0, 2 * (across + 1) / (finite.size + 1))


def identity_bootstrap(
    scores: npt.ArrayLike,
    same: npt.ArrayLike,
    identity_a: npt.ArrayLike,
    identity_b: npt.ArrayLike,
    statistic: Statistic,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile ``1 - alpha`` interval of ``statistic`` by a bootstrap over identities, not pairs.

    A cluster bootstrap with clusters defined by ``identity_a``: identities are
    drawn with replacement and each draw brings every pair whose first side is
    that identity, so pairs sharing a person stay together. Resamples where the
    statistic is NaN are skipped; the interval is NaN when fewer than
    :data:`MIN_VALID_SHARE` of them remain.
    """
    values, labels = _pairs(scores, same)
    clusters = _identity_clusters(labels, identity_a, identity_b)
    return _interval(_resample(clusters, lambda idx: statistic(values[idx], labels[idx]), n_boot, seed), alpha)


def paired_identity_bootstrap(
    scores_a: npt.ArrayLike,
    scores_b: npt.ArrayLike,
    same: npt.ArrayLike,
    identity_a: npt.ArrayLike,
    identity_b: npt.ArrayLike,
    statistic: Statistic,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, float]:
    """``statistic(b) - statistic(a)`` on the same pairs, with its identity-bootstrap interval and p-value.

    Both score sets are resampled together, as in :func:`identity_bootstrap`.
    Returns ``diff``, ``low``, ``high`` and a two-sided ``p_value``: twice the
    share of resampled differences on the other side of zero (or at it), taken
    as ``(k + 1) / (n + 1)`` so that it is never 0, and capped at 1.
    """
    first, labels = _pairs(scores_a, same)
    second, _ = _pairs(scores_b, same)
    clusters = _identity_clusters(labels, identity_a, identity_b)

    def difference(idx: np.ndarray) -> float:
        return statistic(second[idx], labels[idx]) - statistic(first[idx], labels[idx])

    observed = difference(np.arange(labels.size))
    diffs = _resample(clusters, difference, n_boot, seed)
    low, high = _interval(diffs, alpha)
    return {"diff": float(observed), "low": low, "high": high, "p_value": _two_sided_p(diffs, observed)}


def _summary(scores: np.ndarray, same: np.ndarray, fars: Sequence[float]) -> np.ndarray:
    """AUC, EER and TAR at each FAR from one ROC curve (TAR without the estimability rule); NaNs if undefined."""
    curve = _defined_roc(scores, same)
    if curve is None:
        return np.full(2 + len(fars), np.nan)
    return np.array([_auc_of(curve), _eer_of(curve), *(_tar_of(curve, far) for far in fars)])


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None (JSON null) when it is NaN or infinite."""
    return float(value) if math.isfinite(value) else None


def interval_entry(value: float, interval: tuple[float, float]) -> dict[str, Any]:
    """``{"value", "ci"}`` as metrics.json stores a statistic; an undefined bound makes the CI None."""
    low, high = (finite_or_none(bound) for bound in interval)
    return {"value": finite_or_none(value), "ci": None if low is None or high is None else [low, high]}


def verification_report(
    scores: npt.ArrayLike,
    same: npt.ArrayLike,
    identity_a: npt.ArrayLike,
    identity_b: npt.ArrayLike,
    fars: Sequence[float] = REPORT_FARS,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """All headline metrics with identity-bootstrap intervals, as a JSON-ready dict.

    Keys: ``n_pairs``, ``n_genuine``, ``n_impostor``; ``auc`` and ``eer`` as
    ``{"value", "ci"}``; ``tar_at_far`` keyed by the FAR written ``"1e-03"``, each
    ``{"value", "ci", "estimable", "min_impostors"}``; ``bootstrap`` describing
    the interval method. ``ci`` is ``[low, high]`` at level ``1 - alpha``. Plain
    floats throughout, None where undefined or not estimable, so
    ``json.dumps(report, allow_nan=False)`` works. Whether a FAR target is
    estimable is judged on all the pairs; its interval then resamples the same
    conservative TAR without re-applying that rule.
    """
    values, labels = _pairs(scores, same)
    clusters = _identity_clusters(labels, identity_a, identity_b)
    point = _summary(values, labels, fars)
    resampled = _resample(clusters, lambda idx: _summary(values[idx], labels[idx], fars), n_boot, seed)
    entries = [interval_entry(point[k], _interval(resampled[:, k], alpha)) for k in range(point.size)]
    n_impostor = int((~labels).sum())
    tar = {}
    for far, entry in zip(fars, entries[2:]):
        estimable = n_impostor >= min_impostors(far)
        tar[far_key(far)] = {**(entry if estimable else {"value": None, "ci": None}), "estimable": estimable, "min_impostors": min_impostors(far)}
    return {
        "n_pairs": int(labels.size),
        "n_genuine": int(labels.sum()),
        "n_impostor": n_impostor,
        "auc": entries[0],
        "eer": entries[1],
        "tar_at_far": tar,
        "bootstrap": {"method": "percentile, clusters = identity_a", "level": 1 - alpha, "n_boot": n_boot, "seed": seed},
    }
