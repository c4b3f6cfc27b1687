"""Seen, beyond or unseen in training: whether a condition's corruptions, and their strengths, were among what a fine-tuned model trained on.

A fine-tuned model names the corruption families it was trained on (``TrainConfig.lq_families``)
and the face resolutions it drew (``lq_resolutions``); training augmentation draws each family from
a known range, which the run records as ``lq_ranges`` in its training summary: the plain levels'
:data:`helpers.data.degrade.TRAIN_RANGES`, or the ranges the realistic training chain declares
(``TrainConfig.lq_chain``, :mod:`helpers.training.lq_chain`). A record from before ``lq_chain`` existed
was trained on plain levels. An evaluation condition is

- *seen* when every family of its low-quality side was trained on and each lies within what training drew;
- *beyond* when every family was trained on but a strength was not (e.g. blur sigma 4 against a trained
  sigma <= 1.5, or 8 px against a smallest trained resolution of 12), or the level is a preset chain,
  whose strengths training never drew as such;
- *unseen* when a family was held out. End-to-end misalignment (crops aligned on landmarks found on the
  degraded photo) is a family of its own, which training draws only with ``TrainConfig.align_jitter`` or ``e2e_train_copies``.

Gains on the three kinds are reported apart: a gain only on seen corruptions is the augmentation
recognised, not low quality overcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from helpers.data.degrade import TRAIN_RANGES, Degradation
from helpers.evaluation.conditions import END_TO_END
from helpers.evaluation.model_runs import ModelRun

SEEN, BEYOND, UNSEEN = "seen", "beyond", "unseen"
MISALIGNMENT = "misalignment"
"""The corruption family of end-to-end conditions: alignment on landmarks found on the degraded photo."""
HELD_OUT_JOIN = " + "
"""Joins the families a condition holds out of a model's training (``differences.csv``'s ``held_out``)."""
LEVELS = "levels"
"""``TrainConfig.lq_chain``'s default (plain levels), which a record without ``lq_chain`` was trained with."""


@dataclass(frozen=True)
class Training:
    """What a fine-tuned model's augmentation drew: corruption families, face resolutions, the chain that drew them,
    and per family the level field and the range of strengths it drew (``(field, low, high)``)."""

    families: tuple[str, ...]
    resolutions: tuple[int, ...]
    chain: str = LEVELS
    ranges: Mapping[str, Sequence] = field(default_factory=lambda: dict(TRAIN_RANGES))


def trained_on(run: ModelRun) -> Training | None:
    """What ``run`` was fine-tuned on, or None for a model the workbench did not train."""
    training = run.report.training
    if not training:
        return None
    config = training.get("config", {})
    chain = config.get("lq_chain", LEVELS)
    families = tuple(config.get("lq_families", ())) if config.get("lq_prob", 0) > 0 else ()
    if families and (config.get("align_jitter", False) or config.get("e2e_train_copies", 0)):  # trained on end-to-end misalignment
        families += (MISALIGNMENT,)
    ranges = training.get("lq_ranges", TRAIN_RANGES if chain == LEVELS else {})
    return Training(families, tuple(config.get("lq_resolutions", ())), chain, ranges)


def _within(level: Degradation, family: str, training: Training) -> bool:
    """Whether ``level``'s strength in ``family`` lies inside what training drew (milder counts as inside; no recorded range: outside)."""
    if family == "resolution":
        return bool(training.resolutions) and level.resolution >= min(training.resolutions)
    if family not in training.ranges:
        return False
    name, low, high = training.ranges[family]
    value = getattr(level, name)
    if family == "jpeg":
        return value >= low
    if family == "light":
        return value >= low and level.gamma == 1
    return value <= high


def held_out(level: Degradation, mode: str, training: Training | None) -> tuple[str, ...]:
    """The corruption families of a probe level found by ``mode`` that training never drew (misalignment last);
    ``()`` for HQ or a model not trained here."""
    if training is None or level.is_identity:
        return ()
    families = [*level.factors, *([MISALIGNMENT] if mode == END_TO_END else [])]
    return tuple(family for family in families if family not in training.families)


def exposure(level: Degradation, mode: str, training: Training | None) -> str:
    """``seen``, ``beyond`` or ``unseen`` for a probe level found by ``mode``; ``""`` for HQ or a model not trained here."""
    if training is None or level.is_identity:
        return ""
    if held_out(level, mode, training):
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


HELPS, HELPS_SOME, NO_CHANGE, HURTS = "helps", "helps on some", "no measurable change", "hurts"


def _verdict(better: int, worse: int, conditions: int) -> str:
    """``hurts`` when any gain's interval lies wholly below zero, ``helps`` when every one lies above, else how many do."""
    if worse:
        return HURTS
    return HELPS if better == conditions else HELPS_SOME if better else NO_CHANGE


def held_out_summary(differences: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Per compared model and corruption family it never trained on: the gains in ``statistic`` at the conditions where
    that family is the only one held out (a leave-one-family-out arm's own test), how many have an interval wholly
    above or below zero, and the verdict: does the recipe still help where training never showed the family?"""
    columns = ["model", "family", "conditions", "names", "mean_gain", "lowest_low", "better", "worse", "verdict"]
    rows = differences[
        (differences["statistic"] == statistic) & (differences["held_out"] != "") & ~differences["held_out"].str.contains(HELD_OUT_JOIN, regex=False)
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    grouped = rows.groupby(["model", "held_out"], sort=False).agg(
        conditions=("diff", "size"),
        names=("condition", lambda names: ", ".join(names)),
        mean_gain=("diff", "mean"),
        lowest_low=("low", "min"),
        better=("low", lambda low: int((low > 0).sum())),
        worse=("high", lambda high: int((high < 0).sum())),
    )
    frame = grouped.reset_index().rename(columns={"held_out": "family"})
    frame["verdict"] = [_verdict(b, w, n) for b, w, n in zip(frame["better"], frame["worse"], frame["conditions"])]
    return frame[columns]
