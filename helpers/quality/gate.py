"""A quality-gated operating point: faces below a quality threshold chosen on val are rejected before they are compared.

Everything about the gate is chosen on val: its measure is the one that ranks best there (the smallest pAUC-EDC of FRR at
the primary condition, discard limit 0.2), and its threshold rejects the declared share of val probes (the primary
condition's probe faces; one without a value of the measure counts as below it). On test a rejected face is treated
as a failure to acquire: a genuine pair with one is a rejection in FRR, an impostor pair with one leaves FMR's
denominator, and FNMR counts the pairs whose faces both passed. Rejected faces are counted per condition, never
dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.evaluation.conditions import Condition
from helpers.evaluation.embeddings import view_of
from helpers.evaluation.metrics import FAILED_SCORE, acquired_pairs
from helpers.quality.edc import DISCARD_LIMITS, pauc_edc
from helpers.quality.images import Quality
from helpers.quality.ranking import condition_quality, errors_of, kind_pairs

DEFAULT_REJECTION = 0.05
"""The share of val probes the gate rejects unless told otherwise."""


@dataclass(frozen=True)
class Gate:
    """A quality gate: faces whose ``measure`` is below ``threshold`` are rejected."""

    measure: str
    threshold: float
    rejection: float
    condition: str
    val_probes: int
    val_rejected: int
    val_pauc: dict[str, float]

    def passes(self, values: np.ndarray) -> np.ndarray:
        """Which faces pass (a face without a value does not)."""
        return np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf) >= self.threshold

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Gate:
        """A gate as :meth:`to_json` wrote it."""
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"chosen_on": "val", "rule": f"the measure with the smallest val pAUC-EDC (FRR, limit {DISCARD_LIMITS[0]}) at {self.condition}"}


def gate_threshold(values: np.ndarray, rejection: float) -> float:
    """The threshold below which ``rejection`` of ``values`` lie (to the nearest face; -inf counts as the lowest)."""
    if not 0 <= rejection < 1:
        raise ValueError(f"gate_rejection is a share of val probes in [0, 1), got {rejection}")
    ordered = np.sort(np.nan_to_num(np.asarray(values, dtype=float), nan=-np.inf))
    if not ordered.size:
        raise ValueError("the quality gate needs val probes: the val split has none at the primary condition")
    return float(ordered[min(round(rejection * ordered.size), ordered.size - 1)])


def choose_gate(quality: Quality, val_scores: pd.DataFrame, condition: Condition, threshold: float, measures: Sequence[str], rejection: float) -> Gate:
    """The gate val chooses at ``condition`` (its scores in ``val_scores``) and the operating ``threshold``."""
    values, same = val_scores[condition.name].to_numpy(dtype=float), val_scores["same"].to_numpy(dtype=bool)
    genuine = kind_pairs(values, same, "frr")
    errors = errors_of(values[genuine], threshold, "frr")
    paucs = {m: pauc_edc(q[genuine], errors) for m in measures if (q := condition_quality(quality, val_scores, condition, m, split="val")) is not None}
    if not paucs:
        raise ValueError(f"no quality measure is defined at {condition.name} on val: the gate cannot be chosen")
    measure = min(paucs, key=paucs.__getitem__)
    probes, view = np.unique(val_scores["path_b"].astype(str)), view_of(condition.probe, condition.mode)
    probe_values = quality.values("val", view, measure, probes)[quality.acquired("val", view, probes)]
    cut = gate_threshold(probe_values, rejection)
    rejected = int((~Gate(measure, cut, rejection, condition.name, 0, 0, {}).passes(probe_values)).sum())
    return Gate(measure, cut, rejection, condition.name, int(probe_values.size), rejected, paucs)


def gated_scores(gate: Gate, quality: Quality, scores: pd.DataFrame, condition: Condition) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The condition's scores with every pair that holds a rejected face turned into a failure to acquire, and the count
    of faces rejected per side; None when the gate's measure is undefined at this condition."""
    pair_values = condition_quality(quality, scores, condition, gate.measure)
    if pair_values is None:
        return None
    values = scores[condition.name].to_numpy(dtype=float).copy()
    rejected = acquired_pairs(values) & ~gate.passes(pair_values)
    values[rejected] = FAILED_SCORE
    same = scores["same"].to_numpy(dtype=bool)
    counts = {"pairs_rejected": {"genuine": int((rejected & same).sum()), "impostor": int((rejected & ~same).sum())}}
    for side, level, column in (("gallery", condition.level_a, "path_a"), ("probe", condition.level_b, "path_b")):
        paths, view = np.unique(scores[column].astype(str)), view_of(level, condition.mode)
        acquired = quality.acquired("test", view, paths)
        failed_gate = acquired & ~gate.passes(quality.values("test", view, gate.measure, paths))
        counts[side] = {"faces": int(acquired.sum()), "rejected": int(failed_gate.sum()), "rate": float(failed_gate.sum() / max(acquired.sum(), 1))}
    return values, counts
