"""Seen, beyond or unseen in training: whether a condition's corruptions, and their strengths, were among what a fine-tuned model trained on.

A fine-tuned model names the corruption families it was trained on (``TrainConfig.lq_families``)
and the face resolutions it drew (``lq_resolutions``); training augmentation draws each family from
a known range (:data:`helpers.data.degrade.TRAIN_RANGES`). An evaluation condition is

- *seen* when every family of its low-quality side was trained on and each lies within what training drew;
- *beyond* when every family was trained on but a strength was not (e.g. blur sigma 4 against a trained
  sigma <= 1.5, or 8 px against a smallest trained resolution of 12), or the level is a preset chain,
  whose strengths training never drew as such;
- *unseen* when a family was held out. End-to-end misalignment (crops aligned on landmarks found on the
  degraded photo) is a family of its own, which training on aligned crops never draws.

Gains on the three kinds are reported apart: a gain only on seen corruptions is the augmentation
recognised, not low quality overcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.data.degrade import TRAIN_RANGES, Degradation
from helpers.evaluation.conditions import END_TO_END
from helpers.evaluation.model_runs import ModelRun

SEEN, BEYOND, UNSEEN = "seen", "beyond", "unseen"
MISALIGNMENT = "misalignment"
"""The corruption family of end-to-end conditions: alignment on landmarks found on the degraded photo."""


@dataclass(frozen=True)
class Training:
    """What a fine-tuned model's augmentation drew: corruption families and face resolutions."""

    families: tuple[str, ...]
    resolutions: tuple[int, ...]


def trained_on(run: ModelRun) -> Training | None:
    """What ``run`` was fine-tuned on, or None for a model the workbench did not train."""
    training = run.report.training
    if not training:
        return None
    config = training.get("config", {})
    families = tuple(config.get("lq_families", ())) if config.get("lq_prob", 0) > 0 else ()
    return Training(families, tuple(config.get("lq_resolutions", ())))


def _within(level: Degradation, family: str, training: Training) -> bool:
    """Whether ``level``'s strength in ``family`` lies inside what training drew (milder counts as inside)."""
    if family == "resolution":
        return bool(training.resolutions) and level.resolution >= min(training.resolutions)
    field, low, high = TRAIN_RANGES[family]
    value = getattr(level, field)
    if family == "jpeg":
        return value >= low
    if family == "light":
        return value >= low and level.gamma == 1
    return value <= high


def exposure(level: Degradation, mode: str, training: Training | None) -> str:
    """``seen``, ``beyond`` or ``unseen`` for a probe level found by ``mode``; ``""`` for HQ or a model not trained here."""
    if training is None or level.is_identity:
        return ""
    families = set(level.factors) | ({MISALIGNMENT} if mode == END_TO_END else set())
    if not families <= set(training.families):
        return UNSEEN
    if level.preset is not None or not all(_within(level, family, training) for family in level.factors):
        return BEYOND
    return SEEN


def exposure_summary(differences: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Per compared model, alignment and exposure: how many conditions, the mean and median gain in ``statistic``,
    and how many gains have an interval wholly above or below zero (each interval a two-way identity bootstrap)."""
    rows = differences[(differences["statistic"] == statistic) & (differences["training"] != "")]
    grouped = rows.groupby(["model", "alignment", "training"], sort=False)
    return grouped.agg(
        conditions=("diff", "size"),
        mean_gain=("diff", "mean"),
        median_gain=("diff", "median"),
        better=("low", lambda low: int((low > 0).sum())),
        worse=("high", lambda high: int((high < 0).sum())),
    ).reset_index()
