"""Notebook 04's figures: accuracy and identification rates along each degradation, CMC and DIR-FPIR curves, confusion heatmaps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.data.degrade import Degradation
from helpers.data.faces import CROP_SIZE
from helpers.evaluation import plots
from helpers.evaluation.figures import CLEAN, FACTOR_AXES
from helpers.identification import closedset

TICK_LIMIT = 40
"""Above this many people a confusion heatmap drops its name ticks (the top-confusions table names them)."""


def factor_table(levels: dict[str, Degradation], series: dict[str, str], frame_of: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows for :func:`helpers.evaluation.plots.sweep_panels`: each series' value (and interval) along every factor, HQ as each curve's clean end.

    ``series`` maps a series label to the value column; ``frame_of`` maps it to the rows it is read from
    (``view``, ``alignment``, the value column and, where present, ``<column>_ci_low`` / ``_ci_high``).
    """
    rows = []
    for label, column in series.items():
        frame = frame_of[label].set_index("view")
        hq = _point(frame.loc["HQ"], column)
        for _, row in frame.drop(index="HQ").iterrows():
            found = levels[row["level"]].curve_point
            if found is None:
                continue
            factor, x = found
            base = {"panel": factor.replace("_", " "), "factor": factor, "model": label, "mode": row["alignment"]}
            rows += [base | {"x": float(CLEAN.get(factor, CROP_SIZE))} | hq, base | {"x": float(x)} | _point(row, column)]
    table = pd.DataFrame(rows, columns=["panel", "factor", "model", "mode", "x", "value", "low", "high"])
    return table.drop_duplicates(["panel", "model", "mode", "x"])


def _point(row: pd.Series, column: str) -> dict[str, float]:
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    return {"value": row[column], "low": np.nan if low is None else low, "high": np.nan if high is None else high}


def accuracy_figure(results: pd.DataFrame, levels: dict[str, Degradation], classifier: str, title: str) -> Figure:
    """Closed-set accuracy of one classifier along every degradation, HQ-only and mixed training overlaid."""
    chosen = results[results["classifier"] == classifier]
    frames = {f"trained on {closedset.REGIME_TITLES[regime]}": chosen[chosen["regime"] == regime] for regime in dict.fromkeys(chosen["regime"])}
    table = factor_table(levels, dict.fromkeys(frames, "accuracy"), frames)
    return plots.sweep_panels(table, "accuracy", title, FACTOR_AXES)


def open_set_figure(results: pd.DataFrame, levels: dict[str, Degradation], target_fpir: float, title: str) -> Figure:
    """Rank-1 rate, and DIR and FPIR at the threshold fixed on HQ val probes, along every degradation."""
    series = {"rank-1": "rank1", "DIR (fixed threshold)": "dir_fixed", "FPIR (fixed threshold)": "fpir_fixed"}
    table = factor_table(levels, series, dict.fromkeys(series, results))
    return plots.sweep_panels(table, "rate", f"{title} (FPIR target {target_fpir:g})", FACTOR_AXES)


def cmc_figure(cmc: pd.DataFrame, views: list[str], title: str) -> Figure:
    """Cumulative match characteristic of the chosen views (the share of known probes whose person is within rank k)."""
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for i, view in enumerate(views):
        curve = cmc[cmc["view"] == view]
        axis.plot(curve["rank"], curve["identification_rate"], marker="o", ms=3, ls="--" if view.startswith("e2e:") else "-", color=f"C{i}", label=view)
    axis.set(xscale="log", xlabel="rank", ylabel="identification rate", ylim=(0, 1.02), title=title)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def dir_fpir_figure(curves: pd.DataFrame, results: pd.DataFrame, views: list[str], target_fpir: float, title: str) -> Figure:
    """DIR against FPIR on test (descriptive curves), each view's operating point at its val-fixed threshold marked."""
    figure, axis = plt.subplots(figsize=(6, 4.2))
    at = results.set_index("view")
    for i, view in enumerate(views):
        curve = curves[(curves["view"] == view) & (curves["fpir"] > 0)]
        axis.plot(curve["fpir"], curve["dir"], ls="--" if view.startswith("e2e:") else "-", color=f"C{i}", label=view)
        axis.plot(max(at.loc[view, "fpir_fixed"], 1e-4), at.loc[view, "dir_fixed"], "o", color=f"C{i}")
    axis.axvline(target_fpir, color="grey", ls=":", lw=1, label=f"target FPIR {target_fpir:g}")
    axis.set(xscale="log", xlabel="FPIR (unknown test people)", ylabel="DIR (known test people)", ylim=(0, 1.02), title=title)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def confusion_figure(matrix: pd.DataFrame, title: str) -> Figure:
    """A row-normalised confusion heatmap, people sorted by name; names shown up to :data:`TICK_LIMIT` people."""
    size = min(12.0, 3 + 0.12 * len(matrix))
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix.to_numpy(), cmap="viridis", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    if len(matrix) <= TICK_LIMIT:
        axis.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=90, fontsize=6)
        axis.set_yticks(range(len(matrix)), matrix.index, fontsize=6)
    else:
        axis.set_xticks([])
        axis.set_yticks([])
    axis.set(xlabel="predicted person (last column: no face acquired)", ylabel="true person", title=title)
    figure.colorbar(image, ax=axis, fraction=0.04, label="share of the true person's probes")
    return figure


def save_confusion_figures(matrices: dict[tuple[str, str, str], pd.DataFrame], run: Path, model: str, shown: tuple[str, str]) -> list[Path]:
    """Write ``confusion_<regime>_<classifier>_<view>.png`` for every matrix; only the ``(classifier, view)`` in ``shown``
    stays open for the notebook to display (the rest are closed, so dozens of heatmaps do not pile up in memory)."""
    paths = []
    for (regime, name, view), matrix in matrices.items():
        figure = confusion_figure(matrix, f"{model}: {closedset.CLASSIFIERS[name].title} trained on {closedset.REGIME_TITLES[regime]}, {view} probes")
        paths.append(plots.save_figure(figure, Path(run) / f"confusion_{regime}_{name}_{view.replace(':', '-')}.png"))
        if (name, view) != shown:
            plt.close(figure)
    return paths
