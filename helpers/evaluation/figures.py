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
from helpers.evaluation.scores import conditions_of
from helpers.evaluation.statistics import AUC, BY_KEY, FMR, FNMR, TAR_1E3, Statistic

CURVE_GROUPS = {"hq_vs_lq": HQ_GALLERY, "lq_vs_lq": LQ_BOTH}


def roc_by_condition(scores: pd.DataFrame) -> dict[str, metrics.Roc]:
    """``{condition: ROC curve}`` of a wide scores table."""
    same = scores["same"].to_numpy()
    return {name: metrics.roc(scores[name].to_numpy(), same) for name in conditions_of(scores)}


def curve_figures(runs: Sequence[ModelRun], condition_info: pd.DataFrame, kind: str = "roc") -> dict[str, Figure]:
    """ROC (``kind="roc"``) or DET (``"det"``) curves for HQ gallery vs LQ probe and for LQ vs LQ, one figure each.

    One model: its conditions overlaid on one axis (HQ-HQ as the reference in both).
    Several: one panel per condition, the models overlaid (HQ-HQ with the HQ-gallery panels).
    DET figures mark each model's operating point (its val-fixed threshold) on every curve.
    """
    tag, curves = runs[0].tag, {run.name: roc_by_condition(run.scores) for run in runs}
    marks = {run.name: run.threshold for run in runs} if kind == "det" else {}
    figures = {}
    for key, group in CURVE_GROUPS.items():
        if len(runs) == 1:
            names = [n for n in condition_info.index if condition_info.loc[n, "family"] in (HQ_CONDITION, group)]
            title = f"{runs[0].name}: {kind.upper()}, {group} ({tag})"
            figures[f"{kind}_{key}"] = plots.curve_grid({title: {n: curves[runs[0].name][n] for n in names}}, title, kind, marks.get(runs[0].name))
            continue
        families = (HQ_CONDITION, group) if group == HQ_GALLERY else (group,)
        names = [n for n in condition_info.index if condition_info.loc[n, "family"] in families]
        if names:
            panels = {n: {model: found[n] for model, found in curves.items() if n in found} for n in names}
            figures[f"{kind}_{key}"] = plots.curve_grid(panels, f"{kind.upper()}, {group}: {', '.join(curves)} ({tag})", kind, marks or None)
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


def file_key(statistic: Statistic) -> str:
    """A statistic's key as part of a file name: ``tar_at_1e-3``."""
    return statistic.key.replace("@", "_at_")


def resolution_figures(runs: Sequence[ModelRun], statistic: Statistic = TAR_1E3) -> dict[str, Figure]:
    """AUC and ``statistic`` (the primary one) against face resolution, all models on one figure each."""
    tag = runs[0].tag
    return {
        f"{file_key(s)}_vs_resolution": plots.models_vs_resolution(resolution_table(runs, s), s.label, f"{s.label} vs face resolution ({tag})")
        for s in dict.fromkeys((AUC, statistic))
    }


def operating_figures(runs: Sequence[ModelRun]) -> dict[str, Figure]:
    """FMR and FNMR at each model's one operating threshold against face resolution: what a deployed threshold does on LQ faces."""
    target, tag = runs[0].protocol.pairs.operating_fmr, runs[0].tag
    return {
        "fmr_vs_resolution": plots.models_vs_resolution(
            resolution_table(runs, FMR), "FMR at the operating threshold", f"FMR at the threshold fixed on val HQ-HQ (target {target:g}) ({tag})", target
        ),
        "fnmr_vs_resolution": plots.models_vs_resolution(
            resolution_table(runs, FNMR), "FNMR at the operating threshold", f"FNMR at the threshold fixed on val HQ-HQ (FMR {target:g}) ({tag})"
        ),
    }


def difference_figures(differences: pd.DataFrame, tag: str) -> dict[str, Figure]:
    """A forest plot per compared statistic: each compared model minus the baseline, per condition, with 95% CIs."""
    base = differences["baseline"].iloc[0]
    return {
        f"difference_{file_key(BY_KEY[key])}": plots.difference_forest(differences, key, f"{BY_KEY[key].label}: model minus {base} ({tag})")
        for key in dict.fromkeys(differences["statistic"])
    }


def histogram_figures(run: ModelRun, condition_info: pd.DataFrame) -> dict[str, Figure]:
    """One model's genuine and impostor score distributions, one panel per condition."""
    return {"score_histograms": plots.score_histograms(run.scores, list(condition_info.index), f"{run.name}: genuine vs impostor scores ({run.tag})")}


def model_figures(run: ModelRun, statistic: Statistic = TAR_1E3) -> dict[str, Figure]:
    """One model's figures (notebooks 02 and 03): ROC and DET curves, score histograms, AUC, ``statistic`` and the
    operating point against resolution."""
    info = condition_frame([run])
    return (
        curve_figures([run], info)
        | curve_figures([run], info, "det")
        | histogram_figures(run, info)
        | resolution_figures([run], statistic)
        | operating_figures([run])
    )


def save_figures(step_dir: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save each figure as ``<name>.png`` in ``step_dir``."""
    return [plots.save_figure(figure, Path(step_dir) / f"{name}.png") for name, figure in figures.items()]
