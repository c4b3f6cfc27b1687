"""The figures of every report, for one model (notebooks 02 and 03) or many (notebook 05).

Built from :class:`~helpers.evaluation.model_runs.ModelRun` objects and the
comparison tables, drawn with :mod:`helpers.evaluation.plots`, saved as PNG.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.data.chains import PRESETS
from helpers.data.faces import CROP_SIZE
from helpers.evaluation import metrics, plots
from helpers.evaluation.comparison import DIFFERENCES
from helpers.evaluation.conditions import END_TO_END, HQ_CONDITION, HQ_GALLERY, LQ_BOTH
from helpers.evaluation.endpoints import PRIMARY
from helpers.evaluation.model_runs import ModelRun, condition_frame
from helpers.evaluation.scores import conditions_of
from helpers.evaluation.statistics import AUC, BY_KEY, FMR, FNMR, TAR_1E3, Statistic

CURVE_GROUPS = {"hq_vs_lq": HQ_GALLERY, "lq_vs_lq": LQ_BOTH}
FACTOR_AXES = {
    "resolution": ("bicubic resolution (face px)", True, True),
    "realistic": ("realistic chain (face px)", True, True),
    "surveillance": ("surveillance preset (face px)", True, True),
    "blur": ("Gaussian blur (sigma, crop px)", False, False),
    "motion_blur": ("motion blur (length, crop px)", False, False),
    "noise": ("Gaussian noise (sigma, grey levels)", False, False),
    "jpeg": ("JPEG quality", False, True),
    "light": ("light level (brightness factor)", False, True),
}
"""Per factor: the x axis label, log scale, and whether the axis is inverted so that worse lies to the right."""
CLEAN = {"blur": 0.0, "motion_blur": 0.0, "noise": 0.0, "jpeg": 100.0, "light": 1.0}
"""Each factor's value at HQ (the clean end of its curve); resolution ladders start at 112 px."""


def roc_by_condition(scores: pd.DataFrame) -> dict[str, metrics.Roc]:
    """``{condition: ROC curve}`` of a wide scores table, each on its system-level pairs (:func:`~helpers.evaluation.metrics.system_pairs`)."""
    same = scores["same"].to_numpy().astype(bool)
    curves = {}
    for name in conditions_of(scores):
        values = scores[name].to_numpy()
        keep = metrics.system_pairs(values, same)
        curves[name] = metrics.roc(values[keep], same[keep])
    return curves


def curve_conditions(condition_info: pd.DataFrame, family: str, mode: str) -> list[str]:
    """The conditions a ROC or DET figure shows for one family and alignment mode: HQ-HQ as the reference,
    then the levels that lower resolution (the plain ladder and the presets), not the full-resolution sweeps."""
    rows = condition_info[(condition_info["family"] == family) & (condition_info["mode"] == mode) & (condition_info["resolution"] < CROP_SIZE)]
    return [n for n in condition_info.index if condition_info.loc[n, "family"] == HQ_CONDITION] + list(rows.index)


def curve_figures(runs: Sequence[ModelRun], condition_info: pd.DataFrame, kind: str = "roc") -> dict[str, Figure]:
    """ROC (``kind="roc"``) or DET (``"det"``) curves for HQ gallery vs LQ probe and for LQ vs LQ, one figure per alignment mode.

    One model: its conditions overlaid on one axis (HQ-HQ as the reference in each).
    Several: one panel per condition, the models overlaid.
    DET figures mark each model's operating point (its val-fixed threshold) on every curve.
    """
    tag, curves = runs[0].tag, {run.name: roc_by_condition(run.scores) for run in runs}
    marks = {run.name: run.threshold for run in runs} if kind == "det" else {}
    figures = {}
    for (key, group), mode in itertools.product(CURVE_GROUPS.items(), dict.fromkeys(condition_info["mode"])):
        names = curve_conditions(condition_info, group, mode)
        if len(names) < 2:
            continue
        suffix, words = ("_e2e", ", end-to-end") if mode == END_TO_END else ("", ", oracle alignment")
        if len(runs) == 1:
            title = f"{runs[0].name}: {kind.upper()}, {group}{words} ({tag})"
            figures[f"{kind}_{key}{suffix}"] = plots.curve_grid({title: {n: curves[runs[0].name][n] for n in names}}, title, kind, marks.get(runs[0].name))
            continue
        panels = {n: {model: found[n] for model, found in curves.items() if n in found} for n in names}
        figures[f"{kind}_{key}{suffix}"] = plots.curve_grid(
            panels, f"{kind.upper()}, {group}{words}: {_models_phrase(list(curves))} ({tag})", kind, marks or None
        )
    return figures


def _models_phrase(names: list[str]) -> str:
    """The models of a figure for its title: all of them when few, else the first and how many others (the legend names them)."""
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} other models"


def sweep_table(runs: Sequence[ModelRun], statistic: Statistic, condition_info: pd.DataFrame, factors: Sequence[str], families: Sequence[str]) -> pd.DataFrame:
    """Rows of (panel, factor, model, mode, x, value, low, high, not_acquired) of ``statistic``: every condition that varies one of
    ``factors`` (a preset counts as a factor over resolution), in one of ``families``; HQ-HQ is each curve's clean end.
    ``not_acquired``: the share of the condition's pairs with a face not found (:func:`not_acquired`)."""
    chosen = condition_info[condition_info["factor"].isin(factors) & condition_info["family"].isin(families)]
    rows = []
    for run in runs:
        hq = _value(statistic, run, HQ_CONDITION)
        for (factor, family, mode), group in chosen.groupby(["factor", "family", "mode"], sort=False):
            panel = factor.replace("_", " ") + (f": {family}" if len(families) > 1 else "")
            base = {"panel": panel, "factor": factor, "model": run.name, "mode": mode}
            rows.append(base | {"x": CLEAN.get(factor, CROP_SIZE)} | hq)
            rows += [base | {"x": float(info["factor_value"])} | _value(statistic, run, name) for name, info in group.iterrows() if name in run.conditions]
    return pd.DataFrame(rows, columns=["panel", "factor", "model", "mode", "x", "value", "low", "high", "not_acquired"])


def _value(statistic: Statistic, run: ModelRun, name: str) -> dict[str, float]:
    found = statistic.entry(run.conditions[name])
    low, high = found["ci"] or (np.nan, np.nan)
    return {"value": np.nan if found["value"] is None else found["value"], "low": low, "high": high, "not_acquired": not_acquired(run.scores, name)}


def not_acquired(scores: pd.DataFrame, name: str) -> float:
    """The share of pairs of condition ``name`` with a face not found (scored :data:`~helpers.evaluation.metrics.FAILED_SCORE`); 0 without its column."""
    return float(1 - metrics.acquired_pairs(scores[name]).mean()) if name in scores and len(scores) else 0.0


def file_key(statistic: Statistic) -> str:
    """A statistic's key as part of a file name: ``tar_at_1e-3``."""
    return statistic.key.replace("@", "_at_")


def _resolution_factors(condition_info: pd.DataFrame) -> list[str]:
    return [f for f in dict.fromkeys(condition_info["factor"]) if f == "resolution" or f in PRESETS]


def _sweep_factors(condition_info: pd.DataFrame) -> list[str]:
    return [f for f in dict.fromkeys(condition_info["factor"]) if f and f not in _resolution_factors(condition_info)]


def resolution_figures(runs: Sequence[ModelRun], statistic: Statistic = TAR_1E3) -> dict[str, Figure]:
    """AUC and ``statistic`` (the primary one) against face resolution, per ladder (bicubic, each preset) and family;
    all models overlaid, oracle and end-to-end as line styles."""
    info, tag = condition_frame(runs), runs[0].tag
    factors = _resolution_factors(info)
    return {
        f"{file_key(s)}_vs_resolution": plots.sweep_panels(
            sweep_table(runs, s, info, factors, (HQ_GALLERY, LQ_BOTH)), s.label, f"{s.label} vs face resolution ({tag})", FACTOR_AXES
        )
        for s in dict.fromkeys((AUC, statistic))
    }


def operating_figures(runs: Sequence[ModelRun]) -> dict[str, Figure]:
    """FMR and FNMR at each model's one operating threshold against face resolution: what a deployed threshold does on LQ faces."""
    info, target, tag = condition_frame(runs), runs[0].protocol.pairs.operating_fmr, runs[0].tag
    factors = _resolution_factors(info)
    table = {s: sweep_table(runs, s, info, factors, (HQ_GALLERY, LQ_BOTH)) for s in (FMR, FNMR)}
    return {
        "fmr_vs_resolution": plots.sweep_panels(
            table[FMR], "FMR at the operating threshold", f"FMR at the threshold fixed on val HQ-HQ (target {target:g}) ({tag})", FACTOR_AXES, target
        ),
        "fnmr_vs_resolution": plots.sweep_panels(
            table[FNMR], "FNMR at the operating threshold", f"FNMR at the threshold fixed on val HQ-HQ (FMR {target:g}) ({tag})", FACTOR_AXES
        ),
    }


def factor_figures(runs: Sequence[ModelRun]) -> dict[str, Figure]:
    """Per-factor sweeps (one factor varied, the rest clean), HQ gallery vs degraded probe: AUC and FNMR at the operating
    threshold, a panel per factor, all models overlaid, oracle and end-to-end as line styles."""
    info, tag = condition_frame(runs), runs[0].tag
    factors = _sweep_factors(info)
    if not factors:
        return {}
    return {
        f"{file_key(s)}_by_factor": plots.sweep_panels(
            sweep_table(runs, s, info, factors, (HQ_GALLERY,)), label, f"{label} per degradation factor, HQ gallery vs degraded probe ({tag})", FACTOR_AXES
        )
        for s, label in ((AUC, AUC.label), (FNMR, "FNMR at the operating threshold"))
    }


def difference_figures(differences: pd.DataFrame, tag: str, primary: str | None = None) -> dict[str, Figure]:
    """A forest plot per compared statistic: each compared model minus the baseline, per condition, with 95% CIs; long tables
    keep the most-changed conditions (the rest are in ``differences.csv``). ``primary``: the primary endpoint's condition,
    highlighted in each (default: the condition of the table's ``primary`` rows)."""
    base, primary = differences["baseline"].iloc[0], primary or primary_condition(differences)
    return {
        f"difference_{file_key(BY_KEY[key])}": plots.difference_forest(
            differences, key, f"{BY_KEY[key].label}: model minus {base} ({tag})", primary=primary, full_table=DIFFERENCES
        )
        for key in dict.fromkeys(differences["statistic"])
    }


def primary_condition(differences: pd.DataFrame) -> str | None:
    """The condition of the primary endpoint in a differences table (its rows whose ``role`` is primary), None if it has none."""
    found = differences.loc[differences["role"] == PRIMARY, "condition"] if "role" in differences else pd.Series(dtype=str)
    return str(found.iloc[0]) if len(found) else None


def histogram_figures(run: ModelRun, condition_info: pd.DataFrame) -> dict[str, Figure]:
    """One model's genuine and impostor score distributions, one panel per lower-resolution condition (and HQ-HQ)."""
    names = [n for n in condition_info.index if condition_info.loc[n, "resolution"] < CROP_SIZE or condition_info.loc[n, "family"] == HQ_CONDITION]
    return {"score_histograms": plots.score_histograms(run.scores, names, f"{run.name}: genuine vs impostor scores ({run.tag})")}


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
        | factor_figures([run])
    )


def save_figures(step_dir: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save each figure as ``<name>.png`` in ``step_dir``."""
    return [plots.save_figure(figure, Path(step_dir) / f"{name}.png") for name, figure in figures.items()]
