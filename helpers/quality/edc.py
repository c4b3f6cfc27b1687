"""Error-versus-discard characteristic (EDC) curves and pAUC-EDC, the way face image quality measures are ranked
(ISO/IEC 29794-1; Schlett et al., "Considerations on the evaluation of biometric quality assessment algorithms", 2023).

A pair's quality is the lower of its two images' qualities. Pairs are discarded from the lowest quality upward,
pairs of equal quality together, and the error rate at a fixed threshold (FNMR over mated pairs, or FMR over
non-mated ones) is recomputed on what remains. pAUC-EDC is the area under that step curve from no discard up to
a declared discard limit, minus the area under the theoretical best curve (the one that discards exactly the
errors first), so a perfect measure scores 0 and a larger value is worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DISCARD_LIMITS = (0.2, 0.6)
"""The discard limits pAUC-EDC is reported at: 0.2 by default, and 0.6 as Schlett et al. recommend reporting too."""


@dataclass(frozen=True)
class Edc:
    """An EDC step curve: from ``discarded[i]`` (a fraction of the pairs) up to the next point, the error is ``error[i]``."""

    discarded: np.ndarray
    error: np.ndarray

    def area(self, limit: float) -> float:
        """The area under the step curve from no discard to ``limit``."""
        ends = np.minimum(np.append(self.discarded[1:], 1.0), limit)
        widths = np.clip(ends - self.discarded, 0.0, None)
        return float(np.sum(widths * self.error))


def pair_quality(quality_a: npt.ArrayLike, quality_b: npt.ArrayLike) -> np.ndarray:
    """A pair's quality: the lower of its two images' qualities."""
    return np.minimum(np.asarray(quality_a, dtype=float), np.asarray(quality_b, dtype=float))


def _weights(weights: npt.ArrayLike | None, size: int) -> np.ndarray:
    found = np.ones(size) if weights is None else np.asarray(weights, dtype=float)
    if found.shape != (size,) or (found < 0).any() or not found.sum() > 0:
        raise ValueError(f"edc: need one non-negative weight per pair ({size}), some positive; got shape {found.shape}")
    return found


def _steps(errors: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> Edc:
    """The curve of pairs discarded in their given order, one step at each of ``starts``."""
    kept_before = np.r_[0.0, np.cumsum(weights)]
    wrong_before = np.r_[0.0, np.cumsum(weights * errors)]
    total, remaining = kept_before[-1], kept_before[-1] - kept_before[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(remaining > 0, (wrong_before[-1] - wrong_before[starts]) / remaining, 0.0)
    return Edc(kept_before[starts] / total, np.clip(error, 0.0, 1.0))


def edc(quality: npt.ArrayLike, errors: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> Edc:
    """The EDC of pairs with ``quality`` where ``errors`` marks the pairs the fixed threshold gets wrong (for FNMR: the
    mated pairs scoring below it; for FMR: the non-mated pairs at or above it). Pairs of equal quality go together.
    ``weights`` (a bootstrap resample's) count each pair that many times; none: once each."""
    quality, errors = np.asarray(quality, dtype=float), np.asarray(errors, dtype=bool)
    if quality.shape != errors.shape or quality.ndim != 1 or not quality.size:
        raise ValueError(f"edc needs one quality per pair, got {quality.shape} qualities for {errors.shape} pairs")
    if np.isnan(quality).any():
        raise ValueError("edc: a pair has no quality (NaN); give failures to acquire the lowest quality, never drop them")
    order = np.argsort(quality, kind="stable")
    sorted_quality = quality[order]
    starts = np.flatnonzero(np.r_[True, sorted_quality[1:] != sorted_quality[:-1]])  # first pair of each quality value
    return _steps(errors[order], _weights(weights, quality.size)[order], starts)


def best_edc(errors: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> Edc:
    """The theoretical best EDC: the errors discarded first, one pair at a time. A pair of weight ``w`` is ``w`` pairs
    (weights must be whole numbers, as a bootstrap resample's are), so the best stays below every measured curve."""
    errors = np.asarray(errors, dtype=bool)
    weights = _weights(weights, errors.size)
    if not np.array_equal(weights, np.round(weights)):
        raise ValueError("best_edc: weights count pairs, so they must be whole numbers")
    total, wrong = int(weights.sum()), int(weights[errors].sum())
    discarded = np.arange(total)
    return Edc(discarded / total, np.maximum(wrong - discarded, 0) / (total - discarded))


def pauc_edc(quality: npt.ArrayLike, errors: npt.ArrayLike, limit: float = DISCARD_LIMITS[0], weights: npt.ArrayLike | None = None) -> float:
    """The area under the EDC up to ``limit`` minus the theoretical best's: 0 for a perfect quality measure, larger is worse."""
    if not 0 < limit <= 1:
        raise ValueError(f"the discard limit lies in (0, 1], got {limit}")
    return edc(quality, errors, weights).area(limit) - best_edc(errors, weights).area(limit)
