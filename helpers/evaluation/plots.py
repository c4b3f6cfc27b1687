"""Figures shared by the notebooks, each saved as PNG (atomically) and returned for inline display."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.stats import norm

from helpers.core.files import atomic_path
from helpers.evaluation import metrics

NOT_ESTIMABLE = "not estimable here:\ntoo few pairs of people for this FAR target,\nno operating threshold, or one kind of pair"


def _say_if_empty(axis: Axes, values: pd.Series) -> None:
    """Write on ``axis`` that nothing could be estimated, when every value is undefined (rather than leave it blank)."""
    if values.isna().all():
        axis.text(0.5, 0.5, NOT_ESTIMABLE, transform=axis.transAxes, ha="center", va="center", fontsize=9, color="dimgrey")


def save_figure(figure: Figure, target: Path) -> Path:
    """Write ``figure`` as PNG atomically and return the path."""
    with atomic_path(Path(target)) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return Path(target)


def montage(titles: list[str], rows: list[list[np.ndarray]], suptitle: str = "") -> Figure:
    """A grid of images: one row per face, one column per quality level."""
    n_rows, n_cols = max(len(rows), 1), len(titles)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.7 * n_rows), squeeze=False)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(image)
    for c, title in enumerate(titles):
        axes[0, c].set_title(title, fontsize=9)
    for axis in axes.ravel():
        axis.axis("off")
    figure.suptitle(suptitle, fontsize=10)
    return figure


def status_bars(counts: pd.DataFrame, title: str) -> Figure:
    """Stacked bars of files per split, coloured by status (from :func:`helpers.steps.prepare.status_counts`)."""
    table = counts.drop(index="total", columns="total", errors="ignore")
    figure, axis = plt.subplots(figsize=(7, 3.2))
    table.plot.barh(stacked=True, ax=axis, colormap="tab20")
    axis.set_xlabel("files")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return figure


def curve_grid(panels: dict[str, dict[str, metrics.Roc]], title: str, kind: str = "roc", marks: float | dict[str, float] | None = None) -> Figure:
    """One panel per key of ``panels`` (e.g. a condition), each overlaying its curves (e.g. one per model).

    ``kind="roc"``: TAR against log-scale FAR. ``"det"``: FNMR against FMR, both on
    normal-deviate (probit) axes. ``marks`` puts a dot where each curve meets an
    operating threshold (one for every curve, or one per curve label).
    """
    n = len(panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
    for axis, (name, curves) in zip(axes.ravel(), panels.items()):
        (_draw_det if kind == "det" else _draw_roc)(axis, curves, name if n > 1 else "", marks)
    for axis in axes.ravel()[n:]:
        axis.axis("off")
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def _mark(axis: Axes, curve: metrics.Roc, threshold: float | None, x, y, color: str) -> None:
    """A dot where ``curve`` meets ``threshold`` (its point at ``score >= threshold``), drawn with the axis transform ``x``, ``y``."""
    if threshold is not None:
        axis.plot(x(metrics.fmr_of(curve, threshold)), y(metrics.fnmr_of(curve, threshold)), "o", color=color, ms=5, mec="black", mew=0.6)


def _threshold(marks: float | dict[str, float] | None, label: str) -> float | None:
    return marks.get(label) if isinstance(marks, dict) else marks


def _draw_roc(axis: Axes, curves: dict[str, metrics.Roc], title: str, marks: float | dict[str, float] | None = None) -> None:
    """Draw ROC curves on ``axis``: TAR against log-scale FAR, one line per label."""
    for i, (label, curve) in enumerate(curves.items()):
        keep = curve.far > 0
        axis.plot(curve.far[keep], curve.tar[keep], label=label, lw=1.4, color=f"C{i}")
        _mark(axis, curve, _threshold(marks, label), lambda v: v, lambda v: 1 - v, f"C{i}")
    axis.set_xscale("log")
    smallest = min((c.far[c.far > 0].min() for c in curves.values() if (c.far > 0).any()), default=1e-4)
    axis.set_xlim(10 ** np.floor(np.log10(smallest)), 1)
    axis.set_ylim(0, 1.01)
    axis.set_xlabel("false accept rate (log scale)")
    axis.set_ylabel("true accept rate")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    axis.set_title(title, fontsize=10)


DET_TICKS = (1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95)


def _probit(values: np.ndarray | float) -> np.ndarray:
    return norm.ppf(np.clip(values, 1e-6, 1 - 1e-6))


def _draw_det(axis: Axes, curves: dict[str, metrics.Roc], title: str, marks: float | dict[str, float] | None = None) -> None:
    """Draw DET curves on ``axis``: FNMR against FMR on normal-deviate axes, one line per label (rates of 0 or 1 are off the axes)."""
    smallest = 1.0
    for i, (label, curve) in enumerate(curves.items()):
        fnmr = 1 - curve.tar
        keep = (curve.far > 0) & (fnmr > 0)
        axis.plot(_probit(curve.far[keep]), _probit(fnmr[keep]), label=label, lw=1.4, color=f"C{i}")
        _mark(axis, curve, _threshold(marks, label), _probit, _probit, f"C{i}")
        smallest = min(smallest, curve.far[curve.far > 0].min(initial=1.0))
    ticks = [t for t in DET_TICKS if t >= smallest / 2]
    for setter, limits in ((axis.set_xticks, axis.set_xlim), (axis.set_yticks, axis.set_ylim)):
        setter(_probit(np.array(ticks)), [f"{t:g}" for t in ticks])
        limits(_probit(ticks[0]), _probit(0.95))
    axis.tick_params(axis="x", labelrotation=45)
    axis.set_xlabel("false match rate (normal deviate scale)")
    axis.set_ylabel("false non-match rate")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc="upper right")
    axis.set_title(title, fontsize=10)


def score_histograms(scores: pd.DataFrame, conditions: list[str], title: str) -> Figure:
    """Genuine and impostor score distributions, one panel per condition (a column of the wide scores table)."""
    n = len(conditions)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False, sharex=True)
    values = scores[conditions].to_numpy()
    bins = np.linspace(values.min(), values.max(), 60)
    same = scores["same"].to_numpy().astype(bool)
    for axis, name in zip(axes.ravel(), conditions):
        axis.hist(scores[name].to_numpy()[~same], bins=bins, alpha=0.6, density=True, label="impostor")
        axis.hist(scores[name].to_numpy()[same], bins=bins, alpha=0.6, density=True, label="genuine")
        axis.set_title(name, fontsize=9)
    for axis in axes.ravel()[n:]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def training_curves(history: pd.DataFrame, title: str, selected_on: dict | None = None) -> Figure:
    """Training losses per epoch (left); val AUC at HQ-HQ and at the val condition, and the statistic that
    selects the best epoch when it is not AUC (right). ``selected_on``: the training summary's entry of that name."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    trained = history[history["epoch"] > 0]
    for column in [c for c in history.columns if c.endswith("loss")]:
        left.plot(trained["epoch"], trained[column], marker="o", label=column)
    left.set_xlabel("epoch")
    left.set_ylabel("mean training loss")
    left.legend(fontsize=8)
    condition = selected_on["condition"] if selected_on else "val condition"
    lines = [("val_auc_hq", "val AUC, HQ-HQ"), ("val_auc_lq", f"val AUC, {condition}")]
    if selected_on and selected_on["statistic"] != "auc":
        lines.append(("val_select", f"val {selected_on['statistic']}, {condition} (selects the best epoch)"))
    for column, label in lines:
        right.plot(history["epoch"], history[column], marker="o", label=label)
    right.set_xlabel("epoch (0 = before training)")
    right.set_ylabel("AUC" if len(lines) == 2 else "val statistic")
    right.legend(fontsize=8)
    for axis in (left, right):
        axis.grid(True, alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def difference_forest(table: pd.DataFrame, statistic: str, title: str) -> Figure:
    """Differences from the baseline of one statistic per condition with 95% CIs, one marker colour per model.

    ``table`` columns: ``model``, ``condition``, ``statistic``, ``diff``, ``low``, ``high``. Models take the
    colours C1, C2, ... so that they match figures drawing the baseline first, in C0.
    """
    rows = table[table["statistic"] == statistic]
    conditions = list(dict.fromkeys(rows["condition"]))
    models = list(dict.fromkeys(rows["model"]))
    figure, axis = plt.subplots(figsize=(6.5, 0.4 * len(conditions) * max(1, len(models) / 2) + 1.4))
    offsets = np.linspace(-0.15, 0.15, len(models)) if len(models) > 1 else np.zeros(1)
    for i, (offset, model) in enumerate(zip(offsets, models)):
        group = rows[rows["model"] == model]
        y = np.array([conditions.index(c) for c in group["condition"]]) + offset
        err = np.vstack([group["diff"] - group["low"], group["high"] - group["diff"]])
        axis.errorbar(group["diff"], y, xerr=np.nan_to_num(err), fmt="o", capsize=3, color=f"C{i + 1}", label=model)
    _say_if_empty(axis, rows["diff"])
    axis.axvline(0, color="grey", lw=1)
    axis.set_yticks(np.arange(len(conditions)), conditions)
    axis.invert_yaxis()
    axis.set_xlabel(f"{statistic}: model minus baseline (95% paired two-way identity-bootstrap CI)")
    axis.grid(True, axis="x", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return figure


def sweep_panels(table: pd.DataFrame, metric: str, title: str, axes_info: dict[str, tuple[str, bool, bool]], reference: float | None = None) -> Figure:
    """A metric (with CI bars) against one degradation factor per panel; a colour per model, a line style per alignment mode.

    ``table`` columns: ``panel``, ``factor``, ``model``, ``mode``, ``x``, ``value``, ``low``, ``high``.
    ``axes_info[factor]`` = (x label, log scale, inverted: worse to the right). ``reference`` draws a dashed line.
    """
    panels = list(dict.fromkeys(table["panel"]))
    models = list(dict.fromkeys(table["model"]))
    modes = list(dict.fromkeys(table["mode"]))
    columns = min(3, len(panels)) or 1
    rows = -(-len(panels) // columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False, sharey=True)
    for axis, panel in zip(axes.flat, panels):
        rows_of = table[table["panel"] == panel]
        label, log_x, inverted = axes_info[rows_of["factor"].iloc[0]]
        for (model, mode), group in rows_of.groupby(["model", "mode"], sort=False):
            group = group.sort_values("x")
            err = np.vstack([group["value"] - group["low"], group["high"] - group["value"]])
            style = ("-", "--", ":")[modes.index(mode) % 3]
            axis.errorbar(
                group["x"],
                group["value"],
                yerr=np.nan_to_num(err),
                marker="o",
                ms=4,
                capsize=2,
                ls=style,
                color=f"C{models.index(model)}",
                label=f"{model}, {mode}",
            )
        _say_if_empty(axis, rows_of["value"])
        if reference is not None:
            axis.axhline(reference, color="grey", ls="--", lw=1, label=f"target {reference:g}")
        if log_x:
            axis.set_xscale("log", base=2)
            ticks = sorted(rows_of["x"].unique())
            axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
        if inverted:
            axis.invert_xaxis()
        axis.set_xlabel(label)
        axis.grid(True, alpha=0.3)
        axis.set_title(panel, fontsize=10)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    for row in axes:
        row[0].set_ylabel(metric)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 4), 1, 1))
    return figure


def faces_vs_scale(table: pd.DataFrame, title: str) -> Figure:
    """Faces found against photo scale (log x), one line per detector setting: a colour per input size, a line style per detector.

    ``table`` is :func:`helpers.data.detection_sweep.faces_vs_scale`'s (several detectors' tables may be
    concatenated). The top axis reads each scale as a face height: the median height of the faces found
    in the full-size photo by the setting that found the most there, times the scale.
    """
    sizes = list(dict.fromkeys(table["input_size"]))
    detectors = list(dict.fromkeys(table["detector"]))
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for (detector, size), group in table.groupby(["detector", "input_size"], sort=False):
        group = group.sort_values("scale")
        style = ("-", "--", ":", "-.")[detectors.index(detector) % 4]
        axis.plot(group["scale"], group["faces"], marker="o", ms=4, ls=style, color=f"C{sizes.index(size)}", label=f"{detector}, input {size}")
    scales = sorted(table["scale"].unique())
    axis.set_xscale("log")
    axis.set_xticks(scales, [f"{s:g}" for s in scales])
    axis.set_xticks([], minor=True)
    axis.set_xlabel("photo scale (downscaled with area averaging)")
    axis.set_ylabel("faces found")
    full = table[table["scale"] == scales[-1]]
    per_scale = full["median_face_px"].to_numpy()[full["faces"].to_numpy().argmax()] / scales[-1]
    if np.isfinite(per_scale):
        top = axis.secondary_xaxis("top", functions=(lambda s: s * per_scale, lambda px: px / per_scale))
        top.set_xticks([s * per_scale for s in scales], [f"{s * per_scale:.0f}" for s in scales])
        top.set_xticks([], minor=True)
        top.set_xlabel("median face height at that scale (px; full-size median × scale)", fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=10)
    return figure
