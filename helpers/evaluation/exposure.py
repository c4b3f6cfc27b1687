"""Seen or unseen in training: whether a condition's corruptions were all among a fine-tuned model's augmentation families.

A fine-tuned model names the corruption families it was trained on
(``TrainConfig.lq_families``); an evaluation condition is *seen* when every family
of its low-quality side is among them, else *unseen* (a held-out corruption).
Gains on the two kinds are reported apart: a gain only on seen corruptions is
the augmentation recognised, not low quality overcome.
"""

from __future__ import annotations

import pandas as pd

from helpers.data.degrade import Degradation
from helpers.evaluation.model_runs import ModelRun

SEEN, UNSEEN = "seen", "unseen"


def trained_families(run: ModelRun) -> tuple[str, ...] | None:
    """The corruption families ``run`` was fine-tuned on, or None for a model the workbench did not train."""
    training = run.report.training
    if not training:
        return None
    config = training.get("config", {})
    return tuple(config.get("lq_families", ())) if config.get("lq_prob", 0) > 0 else ()


def exposure(level: Degradation, families: tuple[str, ...] | None) -> str:
    """``seen`` or ``unseen`` for a probe level under ``families``; ``""`` for HQ or a model not trained here."""
    if families is None or level.is_identity:
        return ""
    return SEEN if level.factors <= set(families) else UNSEEN


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
