"""The quality figures: how each measure moves along each degradation curve, and each measure's EDC curves.

Every measure keeps one colour (:func:`measure_colours`) in every panel; figures are returned, never saved here
(:func:`helpers.evaluation.plots.save_figure` saves them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from helpers.data.degrade import HQ, Degradation
from helpers.evaluation import plots
from helpers.quality.edc import DISCARD_LIMITS, Edc
from helpers.quality.tracking import NOTICE_RHO, SPLIT, curve_rows, level_correlations, level_curves

PANEL = (4.2, 3.6)
"""One panel's size in inches."""
LEGEND_WIDTH = 2.2
"""Inches kept right of the panels for the one legend."""


def measure_colours(measures: Sequence[str]) -> dict[str, str]:
    """A colour per measure from the qualitative :func:`~helpers.evaluation.plots.palette`, by position: give every
    figure the same measures in the same order and each measure keeps its colour."""
    measures = list(dict.fromkeys(measures))
    return dict(zip(measures, plots.palette(len(measures))))


def hq_percentile(hq: np.ndarray, value: float) -> float:
    """The share of the HQ values ``hq`` below ``value``, ties counted half (0.5 at the HQ median); NaN without either."""
    if not hq.size or not np.isfinite(value):
        return float("nan")
    return float((np.sum(hq < value) + 0.5 * np.sum(hq == value)) / hq.size)


def quality_levels_figure(table: pd.DataFrame, levels: Sequence[Degradation], measures: Sequence[str], mode: str) -> Figure:
    """One panel per curve among ``levels``: HQ then the curve's levels, mildest first; for each measure, the median of the
    level's acquired test faces as a percentile of the HQ faces' values (0.5 = a typical HQ face). Panel titles give
    each measure's rank correlation with the severity (:func:`~helpers.quality.tracking.level_correlations`)."""
    curves = level_curves(levels)
    if not curves:
        raise ValueError(f"no single-factor level among {[level.name for level in levels]}: nothing to draw a curve of")
    correlations = level_correlations(table, levels, measures, mode)
    colours = measure_colours(measures)
    rows, cols, size = plots.grid_shape(len(curves), PANEL, max_cols=3, extra=(LEGEND_WIDTH, 1.0))
    figure, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, sharey=True, layout="constrained")
    for axis, (curve, members) in zip(axes.flat, curves.items()):
        _levels_panel(axis, curve_rows(table, members, mode), [HQ, *members], colours)
        axis.set_title(_correlation_title(curve, correlations[correlations["curve"] == curve]), fontsize=8)
    for axis in axes.flat[len(curves) :]:
        axis.set_visible(False)
    for row in axes:
        row[0].set_ylabel("percentile among HQ faces")
    _measure_legend(figure, colours, marker="o", extra={"0.5: a typical HQ face": Line2D([], [], color="grey", ls="--")})
    title = (
        f"Median quality per level as a percentile of the HQ faces' quality (0.5 = a typical HQ face; lower = judged worse), "
        f"{SPLIT} split, {mode}. ρ: Spearman rank correlation with severity; ρ ≤ {NOTICE_RHO:g}: the measure notices the degradation"
    )
    figure.suptitle(plots.wrapped(title, size[0], 10), fontsize=10)
    return figure


def _levels_panel(axis: Axes, rows: pd.DataFrame, order: list[Degradation], colours: dict[str, str]) -> None:
    """Each measure's HQ percentile of its median per level, levels in ``order`` along the x axis."""
    acquired = rows[rows["acquired"].astype(bool)]
    hq = acquired[acquired["level"] == HQ.name]
    positions = np.arange(len(order))
    medians = acquired.groupby("level")[list(colours)].median().reindex([level.name for level in order])
    for measure, colour in colours.items():
        reference = hq[measure].to_numpy(dtype=float)
        values = [hq_percentile(reference[np.isfinite(reference)], median) for median in medians[measure]]
        axis.plot(positions, values, marker="o", ms=4, lw=1.4, color=colour, label=measure)
    axis.axhline(0.5, color="grey", ls="--", lw=1, gid="_typical")
    axis.set_xticks(positions, [level.name for level in order], rotation=30, ha="right")
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("level, mildest to strongest")
    axis.grid(True, alpha=0.3)


def _correlation_title(curve: str, correlations: pd.DataFrame) -> str:
    """The curve's name, each measure's rho (never split from its name), and the faces not acquired when there are some."""
    rhos = ", ".join(f"{row.measure}\N{NO-BREAK SPACE}{_signed(row.rho)}" for row in correlations.itertuples())
    failures = int(correlations["failures"].iloc[0]) if len(correlations) else 0
    lost = f"\n{failures:,} faces not acquired, left out" if failures else ""
    return plots.wrapped(f"{curve.replace('_', ' ')}\nρ: {rhos}", PANEL[0] - 0.4, 8) + lost


def _signed(rho: float) -> str:
    return f"{rho:+.2f}" if np.isfinite(rho) else "n/a\N{NO-BREAK SPACE}(constant)"


@dataclass(frozen=True)
class EdcPanel:
    """One EDC panel: its title, the error its y axis shows (e.g. "FNMR at the operating threshold"), each measure's
    curve and the theoretical best."""

    title: str
    error: str
    curves: dict[str, Edc]
    best: Edc


def edc_figure(panels: Sequence[EdcPanel], limits: Sequence[float] = DISCARD_LIMITS) -> Figure:
    """One subplot per panel: each measure's EDC as a step curve from no discard up to the largest of ``limits``, the
    theoretical best dashed black, each discard limit a dotted line; one colour per measure across panels, one legend."""
    upto = max(limits)
    colours = measure_colours([name for panel in panels for name in panel.curves])
    rows, cols, size = plots.grid_shape(len(panels), PANEL, max_cols=3, extra=(LEGEND_WIDTH, 0.8))
    figure, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    for axis, panel in zip(axes.flat, panels):
        for name, curve in panel.curves.items():
            axis.step(*_steps(curve, upto), where="post", lw=1.4, color=colours[name], label=name)
        axis.step(*_steps(panel.best, upto), where="post", lw=1.2, color="black", ls="--", label="theoretical best")
        for limit in limits:
            axis.axvline(limit, color="grey", ls=":", lw=1.2, gid="_limit")
        _edc_axis(axis, panel, upto)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    extra = {
        "theoretical best (errors discarded first)": Line2D([], [], color="black", ls="--"),
        f"discard limits {', '.join(f'{limit:g}' for limit in limits)} (pAUC-EDC)": Line2D([], [], color="grey", ls=":"),
    }
    _measure_legend(figure, colours, extra=extra)
    title = "Error versus discard: pairs discarded from the lowest quality up (a pair's quality is the lower of its two faces')"
    figure.suptitle(plots.wrapped(title, size[0], 10), fontsize=10)
    return figure


def _steps(curve: Edc, upto: float) -> tuple[np.ndarray, np.ndarray]:
    """The step points of ``curve`` from no discard to ``upto``, the last step carried on to ``upto``."""
    keep = curve.discarded < upto
    discarded, error = curve.discarded[keep], curve.error[keep]
    return np.append(discarded, upto), np.append(error, error[-1])


def _edc_axis(axis: Axes, panel: EdcPanel, upto: float) -> None:
    """Limits, labels and title of one EDC panel."""
    axis.set_xlim(0, upto)
    axis.set_ylim(bottom=0)
    axis.set_xlabel("fraction of pairs discarded")
    axis.set_ylabel(panel.error)
    axis.grid(True, alpha=0.3)
    axis.set_title(plots.wrapped(panel.title, PANEL[0], 9), fontsize=9)


def _measure_legend(figure: Figure, colours: dict[str, str], marker: str = "", extra: dict[str, Line2D] | None = None) -> None:
    """One legend right of the panels: a line per measure in its colour, then ``extra``."""
    handles = {name: Line2D([], [], color=colour, marker=marker, ms=4, lw=1.4) for name, colour in colours.items()} | (extra or {})
    figure.legend(list(handles.values()), list(handles), loc="outside right center", fontsize=8)
