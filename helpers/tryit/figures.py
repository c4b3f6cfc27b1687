"""What the try-it app and notebook 06 draw: the face used on each photo, and a pair's score as the probe's resolution falls."""

from __future__ import annotations

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers.data.degrade import Degradation
from helpers.tryit.faces import FoundFace, NoFace
from helpers.tryit.models import TryModel
from helpers.tryit.verify import scores_by_level

RESOLUTIONS = (112, 64, 48, 32, 24, 16, 12)
"""Face resolutions (px) of the score-against-resolution plot."""


def annotate(photo: np.ndarray, found: FoundFace | None) -> np.ndarray:
    """The photo with the face used boxed and its five landmarks marked, or "no face found" written on it."""
    out = np.ascontiguousarray(photo.copy())
    thick = max(2, round(max(out.shape[:2]) / 250))
    if found is None:
        cv2.putText(out, "no face found", (10, 10 + 12 * thick), cv2.FONT_HERSHEY_SIMPLEX, thick / 2, (255, 40, 40), thick)
        return out
    x1, y1, x2, y2 = (round(v) for v in found.face.bbox)
    cv2.rectangle(out, (x1, y1), (x2, y2), (40, 220, 40), thick)
    for x, y in np.asarray(found.face.kps).reshape(5, 2):
        cv2.circle(out, (round(x), round(y)), thick + 1, (255, 200, 0), -1)
    return out


def score_plot(model: TryModel, photo_a: np.ndarray, photo_b: np.ndarray, level: Degradation) -> Figure:
    """This pair's score as the probe's face resolution falls, the other settings fixed; the threshold dashed."""
    ladder = [Degradation(**(level.spec() | {"name": f"r{resolution}", "resolution": resolution})) for resolution in RESOLUTIONS]
    try:
        scores = scores_by_level(model, photo_a, photo_b, ladder)
    except NoFace:  # no face on a full-quality photo: every point is a gap
        scores = np.full(len(ladder), np.nan)
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot(RESOLUTIONS, scores, marker="o")
    if model.operating is not None:
        axis.axhline(model.operating.threshold, color="grey", linestyle="--", label="operating threshold")
        axis.legend(fontsize=8)
    axis.set(xscale="log", xlabel="probe face resolution (px; gaps: no face found)", ylabel="cosine score", title=f"{model.name}: this pair")
    axis.set_xticks(RESOLUTIONS, [str(r) for r in RESOLUTIONS])
    axis.minorticks_off()
    axis.invert_xaxis()
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    plt.close(figure)
    return figure
