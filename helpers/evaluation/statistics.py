"""The registry of verification statistics: what every table, difference, summary and README cell reports.

Each :class:`Statistic` knows its words, its decimals, how to read it off a ROC
curve, and where its value sits in a condition entry of ``metrics.json``. The
operating-point statistics (FMR and FNMR at the one threshold fixed on val, the
algorithm level; FRR, the system level, failures to acquire counted as rejections)
are read at that threshold. Every statistic is read off a curve of the system-level
pairs (:func:`helpers.evaluation.metrics.system_pairs`). Tables, paired differences and
summaries all read from here, so one statistic is shown the same way everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from helpers.evaluation import metrics
from helpers.evaluation.metrics import Roc


@dataclass(frozen=True)
class Statistic:
    """A verification statistic: ``key`` (in tables and file names), ``label`` (in words), ``digits`` shown."""

    key: str
    label: str
    digits: int
    of: Callable[[Roc, float], float]  # its value on a curve, given the operating threshold
    far: float | None = None  # TAR statistics: the FAR target
    higher_is_better: bool = True
    at_threshold: bool = False  # read at the operating threshold (undefined without one)

    def entry(self, condition: dict) -> dict:
        """This statistic's ``{"value", "ci", ...}`` in one condition entry of a model's ``metrics.json``."""
        if self.far is not None:
            return condition["tar_at_far"][metrics.far_key(self.far)]
        return condition["operating"][self.key] if self.key in OPERATING_KEYS else condition[self.key]

    def estimable(self, impostor_units: float) -> bool:
        """Whether the statistic is estimable on impostor pairs resting on ``impostor_units`` effective pairs of people
        (TAR: the rule of 30, :func:`~helpers.evaluation.metrics.estimable`; others: always)."""
        return self.far is None or metrics.estimable(impostor_units, self.far)


def _tar(far: float) -> Statistic:
    return Statistic(f"tar@{far:.0e}".replace("e-0", "e-"), f"TAR@FAR={far:.0e}".replace("e-0", "e-"), 3, lambda curve, _: metrics.tar_of(curve, far), far)


AUC = Statistic("auc", "AUC", 4, lambda curve, _: metrics.auc_of(curve))
EER = Statistic("eer", "EER", 4, lambda curve, _: metrics.eer_of(curve), higher_is_better=False)
TAR_1E2, TAR_1E3, TAR_1E4 = (_tar(far) for far in metrics.REPORT_FARS)
FMR = Statistic("fmr", "FMR at the operating threshold", 4, metrics.fmr_of, higher_is_better=False, at_threshold=True)
FNMR = Statistic("fnmr", "FNMR at the operating threshold", 4, metrics.fnmr_acquired_of, higher_is_better=False, at_threshold=True)
FRR = Statistic("frr", "FRR at the operating threshold", 4, metrics.fnmr_of, higher_is_better=False, at_threshold=True)
OPERATING_KEYS = (FMR.key, FNMR.key, FRR.key)

TABLE = (AUC, EER, TAR_1E2, TAR_1E3, TAR_1E4)
"""Every ROC statistic of the comparison tables, in column order."""
ALL = (*TABLE, FMR, FNMR, FRR)
"""Everything a condition reports (paired differences compare the endpoint's few: :meth:`Endpoint.compared`)."""
BY_KEY = {statistic.key: statistic for statistic in ALL}
FALLBACKS = {TAR_1E4.key: (TAR_1E3, TAR_1E2), TAR_1E3.key: (TAR_1E2, AUC), TAR_1E2.key: (AUC,)}
"""What stands in for a TAR that is not estimable on the pairs at hand: the first estimable one wins."""


def measure(statistics: Sequence[Statistic]) -> Callable[[Roc | None, float], np.ndarray]:
    """The vector of ``statistics`` on a curve at an operating threshold (NaN for a None curve, and for the statistics
    read at the threshold when it is NaN: no operating threshold)."""

    def values(curve: Roc | None, threshold: float) -> np.ndarray:
        if curve is None:
            return np.full(len(statistics), math.nan)
        return np.array([math.nan if s.at_threshold and not math.isfinite(threshold) else s.of(curve, threshold) for s in statistics])

    return values


def first_estimable(key: str, impostor_units: float) -> Statistic:
    """``key``'s statistic, or its first estimable fallback on ``impostor_units`` effective pairs of people (AUC as a last resort)."""
    statistic = BY_KEY[key]
    for candidate in (statistic, *FALLBACKS.get(key, ())):
        if candidate.estimable(impostor_units):
            return candidate
    return AUC
