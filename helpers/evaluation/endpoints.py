"""Declared endpoints: the one primary comparison a study is judged by, the secondaries, and the HQ non-inferiority check.

A config declares the primary endpoint (a condition and a statistic) before any
result exists. The summary leads with it; every other paired comparison gets a
Holm-adjusted p-value; and fine-tuning must not cost accuracy on good images:
the lower bound of the HQ-HQ change in the primary statistic must stay within
``non_inferiority_margin`` of zero.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from helpers.evaluation.statistics import AUC, BY_KEY, FNMR, Statistic

PRIMARY, SECONDARY = "primary", "secondary"
ALPHA = 0.05
"""The level every test is judged at (95% intervals, two-sided p-values)."""


def _digest(declared: dict[str, Any]) -> str:
    """The sha256 that locks a declared endpoint (its fields as sorted JSON)."""
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


def check_locked_condition(condition: str, lock: dict[str, Any] | None, where: str) -> None:
    """Raise unless ``condition`` is the primary condition ``lock`` (from the step folder ``where``) declared; no lock: nothing to check."""
    if lock is not None and lock["condition"] != condition:
        raise ValueError(
            f"primary_condition {condition!r} is not the primary endpoint {where} locked before any result ({lock['condition']!r}, "
            f"sha256 {lock['sha256'][:12]}): set primary_condition to it"
        )


@dataclass(frozen=True)
class Endpoint:
    """The primary endpoint: a condition (e.g. ``e2e:HQ-real24``) and a statistic key (e.g. ``tar@1e-2``); the defaults are the template's."""

    condition: str = "e2e:HQ-real24"
    statistic: str = "tar@1e-2"
    non_inferiority_margin: float = 0.005

    def __post_init__(self) -> None:
        if self.statistic not in BY_KEY:
            raise ValueError(f"primary_statistic {self.statistic!r} is none of {sorted(BY_KEY)}")
        if not 0 <= self.non_inferiority_margin <= 0.5:
            raise ValueError(f"non_inferiority_margin must lie in [0, 0.5], got {self.non_inferiority_margin}")

    @property
    def primary(self) -> Statistic:
        return BY_KEY[self.statistic]

    def compared(self) -> tuple[Statistic, ...]:
        """The statistics every condition's paired differences report: the primary, AUC, and FNMR at the operating threshold."""
        return tuple(dict.fromkeys((self.primary, AUC, FNMR)))

    def check_condition(self, conditions: list[str]) -> None:
        """Raise unless the primary condition is one of ``conditions``."""
        if self.condition not in conditions:
            raise ValueError(f"primary_condition {self.condition!r} is none of the scored conditions {conditions}")

    def role(self, condition: str, statistic: str) -> str:
        """``primary`` for the declared endpoint, ``secondary`` for every other comparison."""
        return PRIMARY if (condition, statistic) == (self.condition, self.statistic) else SECONDARY

    def primary_shows_gain(self, diff: float, p_value: float) -> bool:
        """Whether a primary difference is a significant gain (two-sided p < ``ALPHA``, in the better direction): the gate of the fixed sequence."""
        better = diff > 0 if self.primary.higher_is_better else diff < 0
        return bool(better and p_value < ALPHA)

    def lock(self) -> dict[str, Any]:
        """The declaration a run records before any result (notebook 02): condition, statistic, margin and their sha256."""
        declared = asdict(self)
        return declared | {"sha256": _digest(declared)}

    def check_locked(self, lock: dict[str, Any] | None, where: str) -> None:
        """Raise unless this endpoint is the one ``lock`` (from the step folder ``where``) declared; no lock: nothing to check."""
        if lock is None:
            return
        declared = {key: lock[key] for key in ("condition", "statistic", "non_inferiority_margin")}
        if _digest(declared) != lock.get("sha256"):
            raise ValueError(f"the primary endpoint recorded in {where} does not match its sha256: the file was edited; re-run notebook 02")
        if declared != asdict(self):
            raise ValueError(
                f"this notebook declares the primary endpoint {asdict(self)}, but {where} locked {declared} (sha256 {lock['sha256'][:12]}) "
                "before any result: a primary endpoint is declared once, in notebook 02; set primary_condition, primary_statistic and "
                "non_inferiority_margin to the locked values, or start a new run with the endpoint you mean"
            )

    def non_inferior(self, low: float, high: float) -> bool:
        """Whether the interval of the HQ-HQ change in the primary statistic stays within the margin on the worse side."""
        return low >= -self.non_inferiority_margin if self.primary.higher_is_better else high <= self.non_inferiority_margin
