"""Same person? Two photos, one cosine score, the run's operating threshold and its decision; optionally after degrading the probe."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.data.degrade import Degradation
from helpers.tryit.faces import FoundFace, degrade_photo, find_face
from helpers.tryit.models import Operating, TryModel


@dataclass(frozen=True)
class Verification:
    """The score of two faces, the threshold it was judged at (``None`` when no run calibrated one), and the decision."""

    score: float
    operating: Operating | None
    faces: tuple[FoundFace, FoundFace]
    level: str | None

    @property
    def match(self) -> bool | None:
        """Score at or above the operating threshold; ``None`` without a threshold."""
        return None if self.operating is None else self.score >= self.operating.threshold


def embed(model: TryModel, crops: list[np.ndarray]) -> np.ndarray:
    """L2-normalised embeddings of aligned crops."""
    return model.recogniser.embed(np.stack(crops), flip=model.flip)


def verify(
    model: TryModel, photo_a: np.ndarray, photo_b: np.ndarray, names: tuple[str, str] = ("a", "b"), level: Degradation | None = None, seed: int = 0
) -> Verification:
    """Score ``photo_a`` (gallery) against ``photo_b`` (probe). With ``level``, the probe photo is degraded first and its face
    found again on the degraded photo, so the detector sees the low quality (notebook 01's end-to-end mode)."""
    gallery = find_face(photo_a, model.detector, names[0])
    probe = find_face(photo_b, model.detector, names[1])
    if level is not None and not level.is_identity:
        probe = find_face(degrade_photo(photo_b, probe, level, seed), model.detector, f"{names[1]} at {level.name}")
    a, b = embed(model, [gallery.crop, probe.crop])
    return Verification(float(a @ b), model.operating, (gallery, probe), None if level is None else level.name)
