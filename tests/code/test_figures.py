"""The report figures stay readable: bounded size, a colour per curve, legends and titles off the data, failures to acquire
labelled (never binned as scores), long difference tables trimmed around the primary endpoint, whole training epochs."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.transforms import Bbox

from helpers.evaluation import figures, metrics, plots
from helpers.evaluation.endpoints import PRIMARY, SECONDARY
from helpers.evaluation.figures import FACTOR_AXES
from helpers.evaluation.metrics import FAILED_SCORE

matplotlib.use("Agg")

MAX_HEIGHT_PX, MAX_WIDTH_PX = 1800, 2400


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def saved_size(figure: Figure, tmp_path: Path, name: str = "figure") -> tuple[int, int]:
    """Save ``figure`` as the notebooks do and return the PNG's (width, height) in pixels."""
    image = imread(plots.save_figure(figure, tmp_path / f"{name}.png"))
    return image.shape[1], image.shape[0]


def assert_readable_size(figure: Figure, tmp_path: Path) -> tuple[int, int]:
    width, height = saved_size(figure, tmp_path)
    assert 300 < width <= MAX_WIDTH_PX and 200 < height <= MAX_HEIGHT_PX, (width, height)
    return width, height


def is_reference(line: matplotlib.lines.Line2D) -> bool:
    """Reference lines, operating-point dots and errorbar parts: a label or gid starting with ``_``."""
    return any(str(tag or "").startswith("_") for tag in (line.get_label(), line.get_gid()))


def series_styles(axis: Axes) -> list[tuple[str, str]]:
    """(colour, line style) of every data series on ``axis``: plain lines and errorbar series, reference lines left out."""
    lines = [(to_hex(line.get_color()), line.get_linestyle()) for line in axis.get_lines() if not is_reference(line)]
    bars = [
        (to_hex(c.lines[0].get_color()), c.lines[0].get_linestyle())
        for c in axis.containers
        if isinstance(c, ErrorbarContainer) and not c.get_label().startswith("_")
    ]
    return lines + bars


def extent(artist: matplotlib.artist.Artist, figure: Figure) -> Bbox:
    return artist.get_window_extent(figure.canvas.get_renderer())


def assert_legends_off_the_data(figure: Figure) -> None:
    """Every legend (figure or axes) lies outside every visible axes' data area (``figure`` drawn)."""
    legends = list(figure.legends) + [axis.get_legend() for axis in figure.axes if axis.get_legend() is not None]
    assert legends, "no legend"
    for legend in legends:
        for axis in figure.axes:
            if axis.get_visible() and axis.axison:
                assert not extent(legend, figure).overlaps(extent(axis, figure)), axis.get_title()


def assert_title_clear(figure: Figure) -> None:
    """The suptitle overlaps no panel title, no axes and no legend (``figure`` drawn)."""
    title = extent(figure._suptitle, figure)
    for axis in figure.axes:
        if axis.get_visible() and axis.axison:
            assert not title.overlaps(extent(axis, figure)), axis.get_title()
            if axis.get_title():
                assert not title.overlaps(extent(axis.title, figure)), axis.get_title()
    for legend in figure.legends:
        assert not title.overlaps(extent(legend, figure))


def roc_curve(rng: np.random.Generator, separation: float, n: int = 600) -> metrics.Roc:
    same = np.arange(n) % 5 == 0
    return metrics.roc(0.1 * (separation * same + rng.normal(size=n)), same)


@pytest.mark.parametrize("n", [1, 9, 10, 13, 20, 21, 60, 80])
def test_palette_never_repeats(n: int) -> None:
    colours = plots.palette(n)
    assert len(colours) == n == len(set(colours))
    assert colours[: min(n, 10)] == [to_hex(f"C{i}") for i in range(min(n, 10))]  # C0.. first, matching the default cycle


@pytest.mark.parametrize("kind", ["roc", "det"])
def test_thirteen_curves_have_their_own_colours_and_the_legend_is_off_the_data(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    curves = {f"cond-{i:02d}": roc_curve(rng, 4 - 0.25 * i) for i in range(13)}
    title = f"offline: {kind.upper()}, HQ gallery vs LQ probe, oracle alignment (open-set)"
    figure = plots.curve_grid({title: curves}, title, kind, marks=0.2)
    (axis,) = figure.axes
    styles = series_styles(axis)
    assert len(styles) == 13 and len({colour for colour, _ in styles}) == 13
    assert axis.get_legend() is None and [t.get_text() for t in figure.legends[0].get_texts()] == list(curves)
    assert len([line for line in axis.get_lines() if line.get_gid() == "_operating point"]) == 13
    figure.canvas.draw()
    assert_legends_off_the_data(figure)
    assert_title_clear(figure)
    assert_readable_size(figure, tmp_path)


def test_model_panels_keep_the_title_clear_of_condition_names(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    models = ["offline", *(f"sface-lq-distill.recipe{i}" for i in range(8))]
    panels = {
        name: {model: roc_curve(rng, 3 - 0.2 * i) for i, model in enumerate(models)} for name in ("HQ-HQ", "e2e:HQ-real24", "e2e:HQ-px16", "e2e:HQ-real16")
    }
    figure = plots.curve_grid(panels, "ROC, HQ gallery vs LQ probe, end-to-end: " + ", ".join(models) + " (open-set)")
    shown = [axis for axis in figure.axes if axis.axison]
    assert [axis.get_title() for axis in shown] == list(panels)
    for axis in shown:
        styles = series_styles(axis)
        assert len(styles) == len(models) == len({colour for colour, _ in styles})
    assert series_styles(shown[0]) == series_styles(shown[-1])  # a model keeps its colour in every panel
    figure.canvas.draw()
    assert_title_clear(figure)
    assert_legends_off_the_data(figure)
    assert_readable_size(figure, tmp_path)


def scores_with_failures(n_conditions: int, n_pairs: int = 400, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """A wide scores table; condition ``i`` loses the first ``i`` percent of its pairs (and the last one every pair) to failures."""
    rng = np.random.default_rng(seed)
    same = np.arange(n_pairs) % 4 == 0
    table = pd.DataFrame({"same": same})
    names = [f"e2e:cond{i:02d}" for i in range(n_conditions)]
    for i, name in enumerate(names):
        values = np.clip(0.1 * (3 * same + rng.normal(size=n_pairs)), -1, 1)
        values[: n_pairs * i // 100 if i < n_conditions - 1 else n_pairs] = FAILED_SCORE
        table[name] = values.astype(np.float32)
    return table, names


def test_score_histograms_fit_and_label_failures_instead_of_binning_them(tmp_path: Path) -> None:
    scores, names = scores_with_failures(49)
    figure = plots.score_histograms(scores, names, "offline: genuine vs impostor scores (open-set)")
    panels = [axis for axis in figure.axes if axis.axison]
    assert len(panels) == 49
    for axis, name in zip(panels, names):
        lost = int((scores[name] == FAILED_SCORE).sum())
        binned = np.concatenate([patch.get_xy()[:, 0] for patch in axis.patches] or [np.zeros(0)])
        assert (binned > -1.5).all(), name  # the sentinel -2 is never a bin
        assert (f"{lost:,} pairs" in axis.get_title() and "not acquired" in axis.get_title()) == (lost > 0), axis.get_title()
    assert not panels[-1].patches  # every pair lost: nothing binned
    assert "not acquired" in figure._suptitle.get_text()
    figure.canvas.draw()
    assert_title_clear(figure)
    assert_legends_off_the_data(figure)
    width, height = assert_readable_size(figure, tmp_path)
    assert height < width  # a wide grid, not a tall column


def differences(n_conditions: int, primary: str, models: tuple[str, ...] = ("better", "twin")) -> pd.DataFrame:
    """A differences table as notebook 05 writes it: condition ``i``'s change grows with ``i``; ``primary`` barely changes."""
    rows = []
    for m, model in enumerate(models):
        for i in range(n_conditions):
            name = f"cond{i:02d}"
            diff = 0.0001 if name == primary else 0.001 * i * (1 + 0.1 * m)
            role = PRIMARY if name == primary else SECONDARY
            rows.append(
                {"model": model, "baseline": "base", "condition": name, "statistic": "auc", "diff": diff, "low": diff - 0.01, "high": diff + 0.01, "role": role}
            )
    return pd.DataFrame(rows)


def test_long_difference_plot_shows_the_most_changed_and_the_primary(tmp_path: Path) -> None:
    table = differences(80, primary="cond03")
    figure = figures.difference_figures(table, "open-set")["difference_auc"]
    (axis,) = figure.axes
    shown = [label.get_text() for label in axis.get_yticklabels()]
    assert len(shown) <= 21 and "cond03" in shown
    assert shown == [*(f"cond{i:02d}" for i in range(79, 59, -1)), "cond03"]  # the 20 largest changes, largest first, then the primary
    bold = [label.get_text() for label in axis.get_yticklabels() if label.get_fontweight() == "bold"]
    assert bold == ["cond03"] and [patch.get_gid() for patch in axis.patches] == ["primary"]
    assert "differences.csv" in axis.get_title() and "20 most-changed of 80" in axis.get_title()
    styles = series_styles(axis)
    assert len(styles) == 2 == len(set(styles))
    figure.canvas.draw()
    assert_legends_off_the_data(figure)
    assert "primary endpoint" in [t.get_text() for t in figure.legends[0].get_texts()]
    assert_readable_size(figure, tmp_path)


def test_short_difference_plot_keeps_every_condition_in_table_order() -> None:
    figure = plots.difference_forest(differences(6, primary="cond02"), "auc", "AUC: model minus base (open-set)", primary="cond02")
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == [f"cond{i:02d}" for i in range(6)]
    assert "all 6 conditions" in figure.axes[0].get_title()


def sweep(not_acquired: float) -> pd.DataFrame:
    """Two models, oracle and end-to-end, along resolution; the end-to-end 16 px point loses ``not_acquired`` of its pairs."""
    rows = []
    for model in ("base", "better"):
        for mode in ("oracle", "end-to-end"):
            for x, value in ((112, 0.05), (24, 0.03), (16, 0.01)):
                lost = not_acquired if (mode == "end-to-end" and x == 16) else 0.0
                rows.append(
                    {"panel": "surveillance", "factor": "surveillance", "model": model, "mode": mode, "x": x}
                    | {"value": value, "low": value - 0.01, "high": value + 0.01, "not_acquired": lost}
                )
    return pd.DataFrame(rows)


def test_fmr_points_resting_on_failures_to_acquire_are_hollow_and_explained(tmp_path: Path) -> None:
    figure = plots.sweep_panels(sweep(0.6), "FMR at the operating threshold", "FMR at the threshold fixed on val HQ-HQ (target 0.05)", FACTOR_AXES, 0.05)
    axis = figure.axes[0]
    hollow = [line for line in axis.get_lines() if line.get_gid() == "_hollow" and len(line.get_xdata())]
    assert len(hollow) == 2 and all(list(line.get_xdata()) == [16] and line.get_markerfacecolor() == "white" for line in hollow)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "hollow: > 10% of pairs not acquired (face not found)" in legend and "target 0.05" in legend
    styles = series_styles(axis)
    assert len(styles) == 4 == len(set(styles))  # a colour per model, a line style per mode: every pair distinct
    figure.canvas.draw()
    assert_legends_off_the_data(figure)
    assert_title_clear(figure)
    assert_readable_size(figure, tmp_path)


@pytest.mark.parametrize("table", [sweep(0.05), sweep(0.6).drop(columns="not_acquired")], ids=["few failures", "no column (notebook 04)"])
def test_sweep_without_failures_draws_nothing_hollow(table: pd.DataFrame) -> None:
    figure = plots.sweep_panels(table, "FMR", "FMR", FACTOR_AXES, 0.05)
    assert not [line for line in figure.axes[0].get_lines() if line.get_gid() == "_hollow"]
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "target 0.05" in legend and not [text for text in legend if "hollow" in text]


def test_not_acquired_share_counts_failure_sentinels() -> None:
    scores, names = scores_with_failures(30, n_pairs=400)
    assert figures.not_acquired(scores, names[0]) == 0.0
    assert figures.not_acquired(scores, names[25]) == pytest.approx(0.25)
    assert figures.not_acquired(scores, names[-1]) == 1.0


def test_training_curves_have_whole_epochs_and_mark_the_kept_one(tmp_path: Path) -> None:
    epochs = np.arange(4)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "loss": [np.nan, 12.8, 9.6, 9.2],
            "id_loss": [np.nan, 5.9, 4.3, 3.9],
            "val_auc_hq": [0.9999, 0.9998, 0.9998, 0.9998],
            "val_auc_lq": [0.92, 0.93, 0.935, 0.934],
            "val_select": [0.40, 0.45, 0.48, 0.47],
        }
    )
    selected_on = {"condition": "e2e:HQ-real24", "statistic": "tar@1e-2"}
    figure = plots.training_curves(history, "finetuned: training (open-set)", selected_on=selected_on, kept=2)
    figure.canvas.draw()
    for axis in figure.axes:
        ticks = [tick for tick in axis.get_xticks() if axis.get_xlim()[0] <= tick <= axis.get_xlim()[1]]
        assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
        kept = [line for line in axis.get_lines() if line.get_gid() == "_kept"]
        assert len(kept) == 1 and list(kept[0].get_xdata()) == [2, 2]
        assert "kept: epoch 2" in [text.get_text() for text in axis.texts]
        styles = series_styles(axis)
        assert len(styles) == len({colour for colour, _ in styles})
    assert_legends_off_the_data(figure)
    assert_readable_size(figure, tmp_path)


def test_training_curves_without_a_kept_epoch_mark_nothing() -> None:
    history = pd.DataFrame({"epoch": [0, 1], "loss": [np.nan, 1.0], "val_auc_hq": [0.9, 0.95], "val_auc_lq": [0.7, 0.8], "val_select": [0.7, 0.8]})
    figure = plots.training_curves(history, "t")
    assert not [line for axis in figure.axes for line in axis.get_lines() if line.get_gid() == "_kept"]
