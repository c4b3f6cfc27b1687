"""Which model degrades least: each model's loss from HQ to a low-quality condition, with its interval, ranked.

The loss is the statistic at ``HQ-HQ`` minus the statistic at the low-quality condition (the other way
round for a statistic where lower is better), on the same pairs, so a positive loss is always a loss. Its
95% interval comes from the two-way identity bootstrap: each resample draws people with replacement and
reweights the pairs of both conditions alike. Models rank by the loss of the chosen statistic, smallest
first; two models whose intervals overlap are not told apart by this ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.evaluation.bootstrap import interval, resample_paired
from helpers.evaluation.conditions import HQ_CONDITION
from helpers.evaluation.metrics import RankedScores, system_pairs
from helpers.evaluation.model_runs import ModelRun
from helpers.evaluation.scores import people_of
from helpers.evaluation.statistics import AUC, Statistic, first_estimable, measure

ROBUSTNESS = "robustness.csv"
LOW_CONDITION = "px16-px16"


def lacking(runs: Sequence[ModelRun], low: str) -> list[str]:
    """The models that did not score condition ``low`` (the ranking needs it from every model)."""
    return [run.name for run in runs if low not in run.scores.columns]


def model_loss(run: ModelRun, statistic: Statistic, low: str, n_boot: int, seed: int) -> dict[str, object]:
    """One model's ``statistic`` at HQ and at ``low``, the loss between them and its 95% two-way bootstrap interval."""
    if low not in run.scores.columns:
        raise ValueError(f"{run.name} ({run.folder}) has no condition {low!r}; choose one every model scored")
    scores, same = run.scores, run.scores["same"].to_numpy().astype(bool)
    keep = system_pairs(scores[low].to_numpy(), same)  # the pairs the low condition counts, paired with the same pairs at HQ
    people = people_of(scores).subset(keep)
    hq, degraded = (RankedScores(scores[condition].to_numpy()[keep], same[keep]) for condition in (HQ_CONDITION, low))
    values, thresholds = measure([statistic]), run.thresholds(n_boot, seed)
    at_hq, at_low = float(values(hq.roc(), thresholds.point)[0]), float(values(degraded.roc(), thresholds.point)[0])
    sign = 1.0 if statistic.higher_is_better else -1.0
    # resample_paired returns measure(second) - measure(first): HQ minus low quality, the loss for a higher-is-better statistic
    low_bound, high_bound = interval(sign * resample_paired(degraded, hq, people, (values, values), (thresholds, thresholds), seed)[:, 0])
    return {"model": run.name, "statistic": statistic.key, "condition": low, "hq": at_hq, "low_quality": at_low} | {
        "loss": sign * (at_hq - at_low),
        "loss_low": low_bound,
        "loss_high": high_bound,
    }


def robustness_table(runs: Sequence[ModelRun], statistic_key: str, low: str = LOW_CONDITION, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per statistic (AUC, then ``statistic_key`` or its estimable stand-in) and model: the loss from HQ to ``low``, smallest first."""
    units = min(people_of(run.scores).impostor_units() for run in runs)
    statistics = {statistic.key: statistic for statistic in (AUC, first_estimable(statistic_key, units))}
    tables = []
    for statistic in statistics.values():
        table = pd.DataFrame([model_loss(run, statistic, low, n_boot, seed) for run in runs]).sort_values("loss", kind="stable")
        tables.append(table.assign(rank=table["loss"].rank(method="min").astype(int)))
    return pd.concat(tables, ignore_index=True)


def robustness_figure(table: pd.DataFrame) -> Figure:
    """Each model's loss from HQ with its 95% interval, one panel per statistic, most robust on top."""
    statistics = list(dict.fromkeys(table["statistic"]))
    figure, axes = plt.subplots(1, len(statistics), figsize=(5 * len(statistics), 0.6 * table["model"].nunique() + 1.6), squeeze=False)
    for axis, key in zip(axes[0], statistics):
        rows = table[table["statistic"] == key].iloc[::-1]
        positions = np.arange(len(rows))
        errors = np.vstack([rows["loss"] - rows["loss_low"], rows["loss_high"] - rows["loss"]])
        axis.errorbar(rows["loss"], positions, xerr=errors, fmt="o", capsize=4)
        axis.set_yticks(positions, rows["model"])
        axis.axvline(0, color="grey", linewidth=0.8)
        axis.set_xlabel(f"{key} lost from HQ-HQ to {rows['condition'].iloc[0]} (95% CI)")
    figure.suptitle("Which model degrades least (two-way identity bootstrap)")
    figure.tight_layout()
    return figure
