"""Figures shared by the notebooks, each saved as PNG (atomically) and returned for inline display."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from scipy.stats import norm

from helpers.core.files import atomic_path
from helpers.evaluation import metrics

MAX_HEIGHT = 14.0
"""The tallest a figure is drawn, in inches (1,680 px at :func:`save_figure`'s 120 dpi): grids shorten their panels to fit."""
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


def palette(n: int) -> list[str]:
    """``n`` distinct colours: tab10 (so the first ten match ``C0``..``C9``), tab20's light shades, tab20b and tab20c, then samples of turbo."""
    colours = [to_hex(c) for c in plt.get_cmap("tab10").colors]
    colours += [to_hex(c) for c in plt.get_cmap("tab20").colors[1::2]]
    colours += [to_hex(c) for name in ("tab20b", "tab20c") for c in plt.get_cmap(name).colors]
    if n > len(colours):
        colours += [to_hex(c) for c in plt.get_cmap("turbo")(np.linspace(0.05, 0.95, n - len(colours)))]
    return colours[:n]


def line_style(i: int) -> str:
    """A second cue besides colour: solid for the first ten curves (tab10), then dashed, dash-dotted and dotted by tens."""
    return ("-", "--", "-.", ":")[min(i // 10, 3)]


def grid_shape(n: int, panel: tuple[float, float], max_cols: int = 8, extra: tuple[float, float] = (0.0, 0.0)) -> tuple[int, int, tuple[float, float]]:
    """Rows, columns and figure size for ``n`` panels of ``panel`` inches plus ``extra`` inches (legend, titles): about square,
    3 columns at least, panels shortened so that the figure stays within :data:`MAX_HEIGHT` inches."""
    cols = max(1, min(n, max_cols, max(3, math.ceil(math.sqrt(n)))))
    rows = max(1, -(-n // cols))
    height = min(panel[1], (MAX_HEIGHT - extra[1]) / rows)
    return rows, cols, (panel[0] * cols + extra[0], height * rows + extra[1])


def wrapped(title: str, width: float, fontsize: float) -> str:
    """``title`` broken into lines that fit ``width`` inches at ``fontsize`` points (its own line breaks kept)."""
    chars = max(20, int(width * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars, break_on_hyphens=False) for line in title.splitlines())


def _figure_legend(figure: Figure, axes: Iterable[Axes], loc: str = "outside right center", extra: dict[str, Artist] | None = None, **options) -> None:
    """One legend for the figure, outside the axes: every labelled artist of ``axes``, each label once, then ``extra``."""
    found: dict[str, Artist] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            found.setdefault(label, handle)
    found |= extra or {}
    if found:
        figure.legend(list(found.values()), list(found), loc=loc, fontsize=8, **options)


def _legend_right(axis: Axes) -> None:
    """``axis``'s legend to the right of it, off the data."""
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)


def curve_grid(panels: dict[str, dict[str, metrics.Roc]], title: str, kind: str = "roc", marks: float | dict[str, float] | None = None) -> Figure:
    """One panel per key of ``panels`` (e.g. a condition), each overlaying its curves (e.g. one per model).

    ``kind="roc"``: TAR against log-scale FAR. ``"det"``: FNMR against FMR, both on
    normal-deviate (probit) axes. ``marks`` puts a dot where each curve meets an
    operating threshold (one for every curve, or one per curve label). Every curve label has
    its own colour (:func:`palette`), the same in every panel; one legend, right of the panels.
    """
    n = len(panels)
    labels = list(dict.fromkeys(label for curves in panels.values() for label in curves))
    styles = curve_styles(labels)
    rows, cols, size = grid_shape(n, (4.6, 3.8), max_cols=4, extra=(2.4, 0.6))
    figure, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")
    for axis, (name, curves) in zip(axes.ravel(), panels.items()):
        (_draw_det if kind == "det" else _draw_roc)(axis, curves, name if n > 1 else "", marks, styles)
    for axis in axes.ravel()[n:]:
        axis.axis("off")
    _figure_legend(figure, axes.ravel())
    figure.suptitle(wrapped(title, size[0] - 2.4, 11), fontsize=11)
    return figure


def _mark(axis: Axes, curve: metrics.Roc, threshold: float | None, x, y, color: str) -> None:
    """A dot where ``curve`` meets ``threshold`` (its point at ``score >= threshold``), drawn with the axis transform ``x``, ``y``."""
    if threshold is not None:
        fmr, fnmr = metrics.fmr_of(curve, threshold), metrics.fnmr_of(curve, threshold)
        axis.plot(x(fmr), y(fnmr), "o", color=color, ms=5, mec="black", mew=0.6, label="_operating point", gid="_operating point")


def _threshold(marks: float | dict[str, float] | None, label: str) -> float | None:
    return marks.get(label) if isinstance(marks, dict) else marks


Styles = dict[str, tuple[str, str]]
"""Per curve label: its colour and line style."""


def curve_styles(labels: Iterable[str]) -> Styles:
    """A colour (:func:`palette`) and a line style for each curve label, none repeated."""
    labels = list(labels)
    return {label: (colour, line_style(i)) for i, (label, colour) in enumerate(zip(labels, palette(len(labels))))}


def _draw_roc(axis: Axes, curves: dict[str, metrics.Roc], title: str, marks: float | dict[str, float] | None = None, styles: Styles | None = None) -> None:
    """Draw ROC curves on ``axis``: TAR against log-scale FAR, one line per label (colour and style from ``styles``)."""
    styles = styles or curve_styles(curves)
    for label, curve in curves.items():
        colour, style = styles[label]
        keep = curve.far > 0
        axis.plot(curve.far[keep], curve.tar[keep], label=label, lw=1.4, color=colour, ls=style)
        _mark(axis, curve, _threshold(marks, label), lambda v: v, lambda v: 1 - v, colour)
    axis.set_xscale("log")
    smallest = min((c.far[c.far > 0].min() for c in curves.values() if (c.far > 0).any()), default=1e-4)
    axis.set_xlim(10 ** np.floor(np.log10(smallest)), 1)
    axis.set_ylim(0, 1.01)
    axis.set_xlabel("false accept rate (log scale)")
    axis.set_ylabel("true accept rate")
    axis.grid(True, which="both", alpha=0.3)
    axis.set_title(title, fontsize=10)


DET_TICKS = (1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8, 0.95)


def _probit(values: np.ndarray | float) -> np.ndarray:
    return norm.ppf(np.clip(values, 1e-6, 1 - 1e-6))


def _draw_det(axis: Axes, curves: dict[str, metrics.Roc], title: str, marks: float | dict[str, float] | None = None, styles: Styles | None = None) -> None:
    """Draw DET curves on ``axis``: FNMR against FMR on normal-deviate axes, one line per label (rates of 0 or 1 are off the axes)."""
    styles = styles or curve_styles(curves)
    smallest = 1.0
    for label, curve in curves.items():
        colour, style = styles[label]
        fnmr = 1 - curve.tar
        keep = (curve.far > 0) & (fnmr > 0)
        axis.plot(_probit(curve.far[keep]), _probit(fnmr[keep]), label=label, lw=1.4, color=colour, ls=style)
        _mark(axis, curve, _threshold(marks, label), _probit, _probit, colour)
        smallest = min(smallest, curve.far[curve.far > 0].min(initial=1.0))
    ticks = [t for t in DET_TICKS if t >= smallest / 2]
    for setter, limits in ((axis.set_xticks, axis.set_xlim), (axis.set_yticks, axis.set_ylim)):
        setter(_probit(np.array(ticks)), [f"{t:g}" for t in ticks])
        limits(_probit(ticks[0]), _probit(0.95))
    axis.tick_params(axis="x", labelrotation=45)
    axis.set_xlabel("false match rate (normal deviate scale)")
    axis.set_ylabel("false non-match rate")
    axis.grid(True, alpha=0.3)
    axis.set_title(title, fontsize=10)


NOT_ACQUIRED_NOTE = "pairs not acquired (face not found) are counted in each panel's title, never binned as scores"


def score_histograms(scores: pd.DataFrame, conditions: list[str], title: str) -> Figure:
    """Genuine and impostor score distributions, one panel per condition (a column of the wide scores table).

    Only acquired pairs are binned; pairs scored :data:`~helpers.evaluation.metrics.FAILED_SCORE` (a face not
    found) are counted in the panel's title instead. Panels share one bin grid and fill a near-square grid.
    """
    rows, cols, size = grid_shape(len(conditions), (2.4, 2.0), extra=(0.0, 0.8))
    figure, axes = plt.subplots(rows, cols, figsize=size, squeeze=False, sharex=True, layout="constrained")
    same = scores["same"].to_numpy().astype(bool)
    bins = _score_bins(scores, conditions)
    for axis, name in zip(axes.ravel(), conditions):
        _histogram_panel(axis, scores[name].to_numpy(), same, bins, name)
    for axis in axes.ravel()[len(conditions) :]:
        axis.axis("off")
    _figure_legend(figure, axes.ravel()[:1], loc="outside lower center", ncol=2)
    figure.suptitle(wrapped(f"{title}\n{NOT_ACQUIRED_NOTE}", size[0], 10), fontsize=10)
    return figure


def _score_bins(scores: pd.DataFrame, conditions: list[str]) -> np.ndarray:
    """60 bins spanning the acquired scores of every condition (failure sentinels left out)."""
    values = np.concatenate([scores[name].to_numpy(dtype=float) for name in conditions]) if conditions else np.zeros(0)
    values = values[metrics.acquired_pairs(values) & np.isfinite(values)]
    low, high = (values.min(), values.max()) if values.size else (-1.0, 1.0)
    return np.linspace(low, high if high > low else low + 1e-6, 60)


def _histogram_panel(axis: Axes, values: np.ndarray, same: np.ndarray, bins: np.ndarray, name: str) -> None:
    """Impostor and genuine histograms of the acquired pairs; the title names the condition and counts the pairs not acquired."""
    acquired = metrics.acquired_pairs(values)
    for kind, chosen in (("impostor", ~same), ("genuine", same)):
        shown = values[chosen & acquired]
        if shown.size:
            axis.hist(shown, bins=bins, histtype="stepfilled", alpha=0.6, density=True, label=kind, color="C0" if kind == "impostor" else "C1")
    lost = int((~acquired).sum())
    note = f"\n{lost:,} pairs ({lost / values.size:.1%}) not acquired" if lost else ""
    axis.set_title(f"{name}{note}", fontsize=8, color="firebrick" if lost else "black")


def training_curves(history: pd.DataFrame, title: str, selected_on: dict | None = None, kept: int | None = None) -> Figure:
    """Training losses per epoch (left); val AUC at HQ-HQ and at the val condition, and the statistic that
    selects the best epoch when it is not AUC (right). ``selected_on``: the training summary's entry of that name;
    ``kept``: its ``best_epoch``, marked on both panels. Epoch ticks are whole numbers."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
    trained = history[history["epoch"] > 0]
    losses = [c for c in history.columns if c.endswith("loss")]
    for column, colour in zip(losses, palette(len(losses))):
        left.plot(trained["epoch"], trained[column], marker="o", label=column, color=colour)
    left.set_xlabel("epoch")
    left.set_ylabel("mean training loss")
    condition = selected_on["condition"] if selected_on else "val condition"
    lines = [("val_auc_hq", "val AUC, HQ-HQ"), ("val_auc_lq", f"val AUC, {condition}")]
    if selected_on and selected_on["statistic"] != "auc":
        lines.append(("val_select", f"val {selected_on['statistic']}, {condition}\n(selects the best epoch)"))
    for (column, label), colour in zip(lines, palette(len(lines))):
        right.plot(history["epoch"], history[column], marker="o", label=label, color=colour)
    right.set_xlabel("epoch (0 = before training)")
    right.set_ylabel("AUC" if len(lines) == 2 else "val statistic")
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(True, alpha=0.3)
        _mark_kept(axis, kept)
        _legend_right(axis)
    figure.suptitle(title, fontsize=10)
    return figure


def _mark_kept(axis: Axes, kept: int | None) -> None:
    """A dotted vertical line at the epoch kept, labelled ``kept: epoch k`` at the top of ``axis``."""
    if kept is None:
        return
    axis.axvline(kept, color="black", ls=":", lw=1.2, label="_kept", gid="_kept")
    axis.text(kept, 1.01, f"kept: epoch {kept}", transform=axis.get_xaxis_transform(), ha="center", va="bottom", fontsize=8)


DIFFERENCE_ROWS = 20
"""The most-changed conditions a difference plot shows (plus the primary endpoint's, when it is not among them)."""


def shown_conditions(rows: pd.DataFrame, primary: str | None = None, top: int = DIFFERENCE_ROWS) -> list[str]:
    """The conditions a difference plot shows: all of them, in table order, when they fit in ``top`` + 1 rows; else the ``top``
    with the largest absolute change (any model) and ``primary``, largest change first (undefined changes last)."""
    conditions = list(dict.fromkeys(rows["condition"]))
    if len(conditions) <= top + 1:
        return conditions
    change = rows.assign(size=rows["diff"].abs()).groupby("condition", sort=False)["size"].max().fillna(-1.0)
    chosen = set(change.nlargest(top).index) | ({primary} & set(conditions))
    return sorted(chosen, key=lambda name: (-change[name], conditions.index(name)))


def difference_forest(
    table: pd.DataFrame, statistic: str, title: str, primary: str | None = None, top: int = DIFFERENCE_ROWS, full_table: str | None = None
) -> Figure:
    """Differences from the baseline of one statistic per condition with 95% CIs, one marker colour per model.

    ``table`` columns: ``model``, ``condition``, ``statistic``, ``diff``, ``low``, ``high``. Models take the
    colours of :func:`palette` after the first, so that they match figures drawing the baseline first.
    Long tables show the ``top`` most-changed conditions (:func:`shown_conditions`; ``full_table`` names the
    file that holds them all); the ``primary`` condition is always shown, in bold on a shaded band.
    """
    rows = table[table["statistic"] == statistic]
    every = list(dict.fromkeys(rows["condition"]))
    conditions = shown_conditions(rows, primary, top)
    rows = rows[rows["condition"].isin(conditions)]
    models = list(dict.fromkeys(rows["model"]))
    step = min(0.65, max(0.3, 0.08 * len(models)))
    figure, axis = plt.subplots(figsize=(7.5, min(MAX_HEIGHT, 1.6 + step * len(conditions))), layout="constrained")
    offsets = np.linspace(-0.3, 0.3, len(models)) if len(models) > 1 else np.zeros(1)
    for offset, model, colour in zip(offsets, models, palette(len(models) + 1)[1:]):
        group = rows[rows["model"] == model]
        y = np.array([conditions.index(c) for c in group["condition"]]) + offset
        err = np.vstack([group["diff"] - group["low"], group["high"] - group["diff"]])
        axis.errorbar(group["diff"], y, xerr=np.nan_to_num(err), fmt="o", ms=4, capsize=2, color=colour, label=model)
    _say_if_empty(axis, rows["diff"])
    axis.axvline(0, color="grey", lw=1, label="_zero", gid="_zero")
    axis.set_yticks(np.arange(len(conditions)), conditions)
    axis.set_ylim(len(conditions) - 0.5, -0.5)
    _highlight_primary(axis, conditions, primary)
    axis.set_xlabel(f"{statistic}: model minus baseline (95% paired two-way identity-bootstrap CI)")
    axis.grid(True, axis="x", alpha=0.3)
    _figure_legend(figure, [axis], loc="outside lower center", ncol=min(3, len(models) + 1))
    figure.suptitle(wrapped(title, 7.5, 10), fontsize=10)
    axis.set_title(_difference_subtitle(conditions, len(every), primary, top, full_table), fontsize=8)
    return figure


def _highlight_primary(axis: Axes, conditions: list[str], primary: str | None) -> None:
    """The primary endpoint's row: a shaded band (in the legend) and a bold tick label."""
    if primary not in conditions:
        return
    row = conditions.index(primary)
    axis.axhspan(row - 0.5, row + 0.5, color="gold", alpha=0.25, lw=0, label="primary endpoint", gid="primary")
    label = axis.get_yticklabels()[row]
    label.set_fontweight("bold")
    label.set_color("darkgoldenrod")


def _difference_subtitle(shown: list[str], total: int, primary: str | None, top: int, full_table: str | None) -> str:
    """What the rows are: every condition, or the ``top`` most-changed ones (and where the rest are); the primary, when shown."""
    marked = f"; primary endpoint {primary} shaded" if primary in shown else ""
    if len(shown) >= total:
        return f"all {total} conditions{marked}"
    where = f"all {total} in {full_table}" if full_table else f"{total - len(shown)} more not shown"
    return f"the {min(top, len(shown))} most-changed of {total} conditions, largest |change| first{marked}; {where}"


NOT_ACQUIRED_FLAG = 0.10
"""Above this share of pairs not acquired (a face not found) a sweep point is drawn hollow: its rates rest on few pairs."""


def sweep_panels(table: pd.DataFrame, metric: str, title: str, axes_info: dict[str, tuple[str, bool, bool]], reference: float | None = None) -> Figure:
    """A metric (with CI bars) against one degradation factor per panel; a colour per model (:func:`palette`), a line style per alignment mode.

    ``table`` columns: ``panel``, ``factor``, ``model``, ``mode``, ``x``, ``value``, ``low``, ``high``, and optionally
    ``not_acquired`` (the share of the condition's pairs with a face not found): points above :data:`NOT_ACQUIRED_FLAG`
    are hollow, and the legend says so. ``axes_info[factor]`` = (x label, log scale, inverted: worse to the right).
    ``reference`` draws a dashed line. One legend, below the panels.
    """
    panels = list(dict.fromkeys(table["panel"]))
    models = list(dict.fromkeys(table["model"]))
    modes = list(dict.fromkeys(table["mode"]))
    colours = dict(zip(models, palette(len(models))))
    rows, columns, size = grid_shape(len(panels), (5.0, 3.8), max_cols=3, extra=(0.0, 0.6))
    figure, axes = plt.subplots(rows, columns, figsize=size, squeeze=False, sharey=True, layout="constrained")
    for axis, panel in zip(axes.flat, panels):
        rows_of = table[table["panel"] == panel]
        for (model, mode), group in rows_of.groupby(["model", "mode"], sort=False):
            _sweep_series(axis, group.sort_values("x"), colours[model], SWEEP_STYLES[modes.index(mode) % len(SWEEP_STYLES)], f"{model}, {mode}")
        _say_if_empty(axis, rows_of["value"])
        if reference is not None:
            axis.axhline(reference, color="grey", ls="--", lw=1, label=f"target {reference:g}", gid="_reference")
        _sweep_axis(axis, rows_of, axes_info, panel)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    for row in axes:
        row[0].set_ylabel(metric)
    _figure_legend(figure, axes.flat, loc="outside lower center", extra=_flag_note(table), ncol=4)
    figure.suptitle(wrapped(title, size[0], 11), fontsize=11)
    return figure


SWEEP_STYLES = ("-", "--", ":", "-.")
"""A line style per alignment mode (oracle, end-to-end, ...)."""


def _sweep_series(axis: Axes, group: pd.DataFrame, colour: str, style: str, label: str) -> None:
    """One model and mode along a factor, with CI bars; points with many pairs not acquired drawn hollow."""
    err = np.vstack([group["value"] - group["low"], group["high"] - group["value"]])
    axis.errorbar(group["x"], group["value"], yerr=np.nan_to_num(err), marker="o", ms=4, capsize=2, ls=style, color=colour, label=label)
    flagged = group[group["not_acquired"] > NOT_ACQUIRED_FLAG] if "not_acquired" in group else group.iloc[:0]
    if len(flagged):
        axis.plot(flagged["x"], flagged["value"], ls="", marker="o", ms=7, mfc="white", mec=colour, mew=1.5, zorder=3, label="_hollow", gid="_hollow")


def _flag_note(table: pd.DataFrame) -> dict[str, Artist]:
    """A legend entry (a hollow marker) explaining hollow points, when some point is hollow; else none."""
    if "not_acquired" not in table or not (table["not_acquired"] > NOT_ACQUIRED_FLAG).any():
        return {}
    note = f"hollow: > {NOT_ACQUIRED_FLAG:.0%} of pairs not acquired (face not found)"
    return {note: Line2D([], [], ls="", marker="o", ms=7, mfc="white", mec="black", mew=1.5)}


def _sweep_axis(axis: Axes, rows_of: pd.DataFrame, axes_info: dict[str, tuple[str, bool, bool]], panel: str) -> None:
    """Scale, ticks, direction, label and title of one sweep panel."""
    label, log_x, inverted = axes_info[rows_of["factor"].iloc[0]]
    if log_x:
        axis.set_xscale("log", base=2)
        ticks = sorted(rows_of["x"].unique())
        axis.set_xticks(ticks, [f"{t:g}" for t in ticks])
    if inverted:
        axis.invert_xaxis()
    axis.set_xlabel(label)
    axis.grid(True, alpha=0.3)
    axis.set_title(panel, fontsize=10)


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
