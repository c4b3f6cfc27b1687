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


def edc(quality: npt.ArrayLike, errors: npt.ArrayLike) -> Edc:
    """The EDC of pairs with ``quality`` where ``errors`` marks the pairs the fixed threshold gets wrong (for FNMR: the
    mated pairs scoring below it; for FMR: the non-mated pairs at or above it). Pairs of equal quality go together."""
    quality, errors = np.asarray(quality, dtype=float), np.asarray(errors, dtype=bool)
    if quality.shape != errors.shape or quality.ndim != 1 or not quality.size:
        raise ValueError(f"edc needs one quality per pair, got {quality.shape} qualities for {errors.shape} pairs")
    if np.isnan(quality).any():
        raise ValueError("edc: a pair has no quality (NaN); give failures to acquire the lowest quality, never drop them")
    order = np.argsort(quality, kind="stable")
    quality, errors = quality[order], errors[order]
    starts = np.flatnonzero(np.r_[True, quality[1:] != quality[:-1]])  # first pair of each quality value
    kept = quality.size - starts
    remaining_errors = errors.sum() - np.r_[0, np.cumsum(errors)][starts]
    return Edc(starts / quality.size, remaining_errors / kept)


def best_edc(errors: npt.ArrayLike) -> Edc:
    """The theoretical best EDC: the errors discarded first, one pair at a time."""
    errors = np.asarray(errors, dtype=bool)
    count, wrong = errors.size, int(errors.sum())
    discarded = np.arange(count)
    return Edc(discarded / count, np.maximum(wrong - discarded, 0) / (count - discarded))


def pauc_edc(quality: npt.ArrayLike, errors: npt.ArrayLike, limit: float = DISCARD_LIMITS[0]) -> float:
    """The area under the EDC up to ``limit`` minus the theoretical best's: 0 for a perfect quality measure, larger is worse."""
    if not 0 < limit <= 1:
        raise ValueError(f"the discard limit lies in (0, 1], got {limit}")
    return edc(quality, errors).area(limit) - best_edc(errors).area(limit)
