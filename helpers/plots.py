"""Figures shared by the notebooks, each saved as PNG (atomically) and returned for inline display."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.files import atomic_path


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
    """Stacked bars of files per split, coloured by status (from :func:`helpers.prepare.status_counts`)."""
    table = counts.drop(index="total", columns="total", errors="ignore")
    figure, axis = plt.subplots(figsize=(7, 3.2))
    table.plot.barh(stacked=True, ax=axis, colormap="tab20")
    axis.set_xlabel("files")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    return figure
