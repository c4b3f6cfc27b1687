"""Same person? Two photos, one cosine score, the run's operating threshold and its decision; optionally after degrading the probe."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.data.degrade import Degradation
from helpers.tryit.faces import FoundFace, NoFace, degrade_photo, find_face
from helpers.tryit.models import TryModel
from helpers.tryit.thresholds import Operating


@dataclass(frozen=True)
class Verification:
    """The score of two faces, the threshold it was judged at (``None`` when no run calibrated one), and the decision."""

    score: float
    operating: Operating | None
    faces: tuple[FoundFace, FoundFace]
    level: str | None
    seen_b: np.ndarray
    """Photo B as the detector saw it: degraded at ``level``, or as given."""

    @property
    def match(self) -> bool | None:
        """Score at or above the operating threshold; ``None`` without a threshold."""
        return None if self.operating is None else self.operating.accepts(self.score)


def embed(model: TryModel, crops: list[np.ndarray]) -> np.ndarray:
    """L2-normalised embeddings of aligned crops."""
    return model.recogniser.embed(np.stack(crops), flip=model.flip)


def verify(
    model: TryModel, photo_a: np.ndarray, photo_b: np.ndarray, names: tuple[str, str] = ("a", "b"), level: Degradation | None = None, seed: int = 0
) -> Verification:
    """Score ``photo_a`` (gallery) against ``photo_b`` (probe). With ``level``, the probe photo is degraded first and its face
    found again on the degraded photo, so the detector sees the low quality (notebook 01's end-to-end mode)."""
    gallery = find_face(photo_a, model.detector, names[0])
    seen_b, probe = photo_b, find_face(photo_b, model.detector, names[1])
    if level is not None:
        seen_b, probe = degraded_view(model, photo_b, probe, level, names[1], seed)
    a, b = embed(model, [gallery.crop, probe.crop])
    return Verification(float(a @ b), model.operating, (gallery, probe), None if level is None else level.name, seen_b)


def degraded_view(model: TryModel, photo: np.ndarray, found: FoundFace, level: Degradation, name: str, seed: int = 0) -> tuple[np.ndarray, FoundFace]:
    """``photo`` degraded at ``level`` and the face found again on it (``photo`` and ``found`` themselves when the level
    changes nothing)."""
    if level.is_identity:
        return photo, found
    seen = degrade_photo(photo, found, level, seed)
    return seen, find_face(seen, model.detector, f"{name} at {level.name}")


def scores_by_level(model: TryModel, photo_a: np.ndarray, photo_b: np.ndarray, levels: list[Degradation], seed: int = 0) -> np.ndarray:
    """The pair's score with photo B degraded at each level (its face found again each time), NaN where none was found;
    both HQ faces are found once and every crop is embedded in one batch."""
    gallery = find_face(photo_a, model.detector, "photo A")
    probe = find_face(photo_b, model.detector, "photo B")
    crops: dict[int, np.ndarray] = {}
    for index, level in enumerate(levels):
        try:
            crops[index] = degraded_view(model, photo_b, probe, level, "photo B", seed)[1].crop
        except NoFace:
            continue
    scores = np.full(len(levels), np.nan)
    if crops:
        vectors = embed(model, [gallery.crop, *crops.values()])
        scores[list(crops)] = vectors[1:] @ vectors[0]
    return scores
