"""The registry of headline statistics: what every table, difference, summary and README cell reports.

Each :class:`Statistic` knows its words, its decimals, how to compute it from
scored pairs (and inside a bootstrap resample), and where its value sits in a
condition entry of ``metrics.json``. Tables, paired differences and summaries
all read from here, so one statistic is shown the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.evaluation import metrics


@dataclass(frozen=True)
class Statistic:
    """A verification statistic: ``key`` (in tables and file names), ``label`` (in words), ``digits`` shown."""

    key: str
    label: str
    digits: int
    far: float | None = None  # TAR statistics: the FAR target

    def entry(self, condition: dict) -> dict:
        """This statistic's ``{"value", "ci", ...}`` in one condition entry of a model's ``metrics.json``."""
        return condition["tar_at_far"][metrics.far_key(self.far)] if self.far is not None else condition[self.key]

    def point(self, scores: np.ndarray, same: np.ndarray) -> float:
        """The statistic on all pairs (NaN where undefined or, for TAR, not estimable)."""
        if self.far is not None:
            return metrics.tar_at_far(scores, same, self.far)
        return metrics.auc(scores, same) if self.key == "auc" else metrics.eer(scores, same)

    def resampled(self, scores: np.ndarray, same: np.ndarray) -> float:
        """The statistic inside a bootstrap resample (TAR without re-applying the estimability rule)."""
        return metrics.conservative_tar(scores, same, self.far) if self.far is not None else self.point(scores, same)


AUC = Statistic("auc", "AUC", 4)
EER = Statistic("eer", "EER", 4)
TAR_1E1 = Statistic("tar@1e-1", "TAR@FAR=1e-1", 3, 1e-1)
TAR_1E2 = Statistic("tar@1e-2", "TAR@FAR=1e-2", 3, 1e-2)
TAR_1E3 = Statistic("tar@1e-3", "TAR@FAR=1e-3", 3, 1e-3)

TABLE = (AUC, EER, TAR_1E1, TAR_1E2, TAR_1E3)
"""Every statistic of the comparison tables, in column order."""
HEADLINE = (AUC, TAR_1E3)
"""The statistics compared model against model (paired differences, summaries, the README)."""
BY_KEY = {statistic.key: statistic for statistic in TABLE}
FALLBACKS = {TAR_1E3.key: (TAR_1E2, EER)}
"""What a report shows instead of a headline statistic that is not estimable on the pairs at hand, first estimable one wins."""
