"""What the try-it app and notebook 06 draw: the face used on each photo, and a pair's score as the probe's resolution falls."""

from __future__ import annotations

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers.data.degrade import Degradation
from helpers.tryit.faces import FoundFace, NoFace, degrade_photo, find_face
from helpers.tryit.models import TryModel
from helpers.tryit.verify import scores_by_level

RESOLUTIONS = (112, 64, 48, 32, 24, 16, 12)
"""Face resolutions (px) of the score-against-resolution plot."""
NO_FACE = "no face found"


def annotate(photo: np.ndarray, found: FoundFace | None) -> np.ndarray:
    """The photo with the face used boxed and its five landmarks marked, or "no face found" written on it."""
    out = np.ascontiguousarray(photo.copy())
    if found is None:
        write_no_face(out)
        return out
    thick = max(2, round(max(out.shape[:2]) / 250))
    x1, y1, x2, y2 = (round(v) for v in found.face.bbox)
    cv2.rectangle(out, (x1, y1), (x2, y2), (40, 220, 40), thick)
    for x, y in np.asarray(found.face.kps).reshape(5, 2):
        cv2.circle(out, (round(x), round(y)), thick + 1, (255, 200, 0), -1)
    return out


def write_no_face(image: np.ndarray) -> None:
    """Write "no face found" in red on a dark box at the bottom left of ``image`` (clear of the label the app puts at the
    top left): half the photo's width, at least 120 px where the photo is wide enough, at most a tenth of its height."""
    height, width = image.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    (unit_width, unit_height), _ = cv2.getTextSize(NO_FACE, font, 1.0, 2)
    scale = min(min(0.9 * width, max(0.5 * width, 120)) / unit_width, 0.1 * height / unit_height)
    thick = max(1, round(2 * scale))
    (text_width, text_height), baseline = cv2.getTextSize(NO_FACE, font, scale, thick)
    pad = max(2, round(text_height / 3))
    bottom = height - pad - baseline
    cv2.rectangle(image, (0, bottom - text_height - pad), (text_width + 2 * pad, height), (20, 20, 20), -1)
    cv2.putText(image, NO_FACE, (pad, bottom), font, scale, (255, 60, 60), thick, cv2.LINE_AA)


def seen_photo(model: TryModel, photo: np.ndarray, level: Degradation | None, seed: int = 0) -> np.ndarray:
    """``photo`` as :func:`~helpers.tryit.verify.verify` let the detector see it as photo B: degraded at ``level`` (its
    full-quality face setting the scale), or as it is without a level or without a face to scale by."""
    if level is None or level.is_identity:
        return photo
    try:
        return degrade_photo(photo, find_face(photo, model.detector, "photo B"), level, seed)
    except NoFace:
        return photo


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
