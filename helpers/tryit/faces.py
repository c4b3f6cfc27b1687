"""Photos in, aligned faces out: the robust decoder of notebook 01, the largest face, and degrading a photo before detection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.data.acquire import face_scale
from helpers.data.degrade import Degradation, degrade_image
from helpers.data.faces import Face, FaceDetector, align
from helpers.data.scan import UndecodableImage, load_rgb


class NoFace(ValueError):
    """No face was found in a photo."""


class UnreadablePhoto(ValueError):
    """A photo that cannot be read or decoded."""


@dataclass(frozen=True)
class FoundFace:
    """The face used from a photo: its detection, the aligned 112 x 112 crop, and a note when there was a choice."""

    face: Face
    crop: np.ndarray
    note: str


def read_photo(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 through notebook 01's decoder (EXIF orientation, CMYK, 16-bit, size limit)."""
    try:
        return load_rgb(Path(path))
    except (UndecodableImage, OSError) as error:
        raise UnreadablePhoto(f"{path}: cannot be read as a photo ({error})") from None


def find_face(photo: np.ndarray, detector: FaceDetector, name: str) -> FoundFace:
    """The largest face in ``photo``, aligned; :class:`NoFace` names the photo when there is none."""
    boxes, keypoints = detector.detect_all(photo)
    if len(boxes):
        best = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
        face = Face(tuple(float(v) for v in boxes[best, :4]), float(boxes[best, 4]), tuple(float(v) for v in keypoints[best].ravel()), len(boxes))
    elif (face := detector.detect(photo)) is None:  # one retry inside a black border, as in notebook 01
        raise NoFace(f"{name}: no face found")
    note = f"{face.n_faces} faces found: used the largest" if face.n_faces > 1 else ""
    return FoundFace(face, align(photo, face.kps), note)


def degrade_photo(photo: np.ndarray, found: FoundFace, level: Degradation, seed: int = 0) -> np.ndarray:
    """The whole photo degraded at ``level``, its face brought to the level's resolution (scaled from ``found``'s keypoints)."""
    return degrade_image(photo, level, seed, face_scale(np.asarray(found.face.kps)))
