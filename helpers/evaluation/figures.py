"""The figures of every report, for one model (notebooks 02 and 03) or many (notebook 04).

Built from :class:`~helpers.evaluation.model_runs.ModelRun` objects and the
comparison tables, drawn with :mod:`helpers.evaluation.plots`, saved as PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.evaluation import metrics, plots
from helpers.evaluation.conditions import HQ_CONDITION, HQ_GALLERY, LQ_BOTH
from helpers.evaluation.model_runs import ModelRun, condition_frame, run_conditions
from helpers.evaluation.statistics import AUC, HEADLINE, TAR_1E3, Statistic

ROC_GROUPS = {"roc_hq_vs_lq": HQ_GALLERY, "roc_lq_vs_lq": LQ_BOTH}


def roc_by_condition(scores: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{condition: (far, tar)}`` for plotting."""
    curves = {}
    for name, group in scores.groupby("condition", sort=False):
        curve = metrics.roc(group["score"], group["same"])
        curves[name] = (curve.far, curve.tar)
    return curves


def roc_figures(runs: Sequence[ModelRun], condition_info: pd.DataFrame) -> dict[str, Figure]:
    """ROC curves for HQ gallery vs LQ probe and for LQ vs LQ, one figure each.

    One model: its conditions overlaid on one axis (HQ-HQ as the reference in both).
    Several: one panel per condition, the models overlaid (HQ-HQ with the HQ-gallery panels).
    """
    tag, curves = runs[0].tag, {run.name: roc_by_condition(run.scores) for run in runs}
    figures = {}
    for key, group in ROC_GROUPS.items():
        if len(runs) == 1:
            names = [n for n in condition_info.index if condition_info.loc[n, "family"] in (HQ_CONDITION, group)]
            figures[key] = plots.roc_curves({n: curves[runs[0].name][n] for n in names}, f"{runs[0].name}: ROC, {group} ({tag})")
            continue
        families = (HQ_CONDITION, group) if group == HQ_GALLERY else (group,)
        names = [n for n in condition_info.index if condition_info.loc[n, "family"] in families]
        if names:
            panels = {n: {model: found[n] for model, found in curves.items() if n in found} for n in names}
            figures[key] = plots.roc_grid(panels, f"ROC, {group}: {', '.join(curves)} ({tag})")
    return figures


def resolution_table(runs: Sequence[ModelRun], statistic: Statistic) -> pd.DataFrame:
    """Rows of (model, series, resolution, value, low, high) of ``statistic`` for every model; HQ-HQ starts both series."""
    rows = []
    for run in runs:
        for condition in run_conditions(run):
            entry = statistic.entry(run.conditions[condition.name])
            low, high = entry["ci"] or (np.nan, np.nan)
            value = np.nan if entry["value"] is None else entry["value"]
            series = [HQ_GALLERY, LQ_BOTH] if condition.family == HQ_CONDITION else [condition.family]
            rows += [{"model": run.name, "series": s, "resolution": condition.resolution, "value": value, "low": low, "high": high} for s in series]
    return pd.DataFrame(rows)


def resolution_figures(runs: Sequence[ModelRun]) -> dict[str, Figure]:
    """AUC and TAR@FAR=1e-3 against face resolution, all models on one figure each."""
    tag = runs[0].tag
    return {
        f"{name}_vs_resolution": plots.models_vs_resolution(resolution_table(runs, statistic), statistic.label, f"{statistic.label} vs face resolution ({tag})")
        for name, statistic in (("auc", AUC), ("tar", TAR_1E3))
    }


def difference_figures(differences: pd.DataFrame, tag: str) -> dict[str, Figure]:
    """A forest plot per headline statistic: each compared model minus the baseline, per condition, with 95% CIs."""
    base = differences["baseline"].iloc[0]
    return {
        f"difference_{statistic.key.replace('@', '_at_')}": plots.difference_forest(
            differences, statistic.key, f"{statistic.label}: model minus {base} ({tag})"
        )
        for statistic in HEADLINE
    }


def histogram_figures(run: ModelRun, condition_info: pd.DataFrame) -> dict[str, Figure]:
    """One model's genuine and impostor score distributions, one panel per condition."""
    return {"score_histograms": plots.score_histograms(run.scores, list(condition_info.index), f"{run.name}: genuine vs impostor scores ({run.tag})")}


def model_figures(run: ModelRun) -> dict[str, Figure]:
    """One model's figures (notebooks 02 and 03): ROC curves, score histograms, AUC and TAR@FAR=1e-3 against resolution."""
    info = condition_frame([run])
    return roc_figures([run], info) | histogram_figures(run, info) | resolution_figures([run])


def save_figures(step_dir: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save each figure as ``<name>.png`` in ``step_dir``."""
    return [plots.save_figure(figure, Path(step_dir) / f"{name}.png") for name, figure in figures.items()]
