"""Who is this? A probe photo searched against a folder-per-identity gallery, with "unknown" below the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helpers.core.progress import progress
from helpers.identification.search import Gallery, search
from helpers.tryit.arguments import PHOTO_SUFFIXES
from helpers.tryit.faces import FoundFace, NoFace, UnreadablePhoto, find_face, read_photo
from helpers.tryit.models import TryModel
from helpers.tryit.thresholds import OpenSet, Operating
from helpers.tryit.verify import embed

UNCALIBRATED = (
    "uncalibrated for search: no open-set threshold for this model (notebook 04 sets one), so the 1:1 threshold decides, "
    "and a larger gallery raises the chance of a false match"
)


@dataclass(frozen=True)
class Enrolled:
    """A gallery built from a folder, and the files left out with the reason."""

    gallery: Gallery
    images: int
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Identification:
    """The best people for a probe, best first, and the threshold the decision is made at: notebook 04's open-set
    threshold when the model has one, else the 1:1 threshold (an uncalibrated decision, said so)."""

    people: list[str]
    scores: list[float]
    open_set: OpenSet | None
    operating: Operating | None
    face: FoundFace

    @property
    def decided_by(self) -> float | None:
        """The threshold the best score is compared with; None when there is none."""
        if self.open_set is not None:
            return self.open_set.threshold
        return None if self.operating is None else self.operating.threshold

    @property
    def accepted(self) -> bool | None:
        """The best score at or above the deciding threshold; ``None`` without one."""
        return None if self.decided_by is None else self.scores[0] >= self.decided_by

    @property
    def verdict(self) -> str:
        """The best person's name, "unknown", or "no threshold"."""
        return "no threshold" if self.accepted is None else (self.people[0] if self.accepted else "unknown")

    def describe_threshold(self, gallery_people: int) -> str:
        """The deciding threshold and what it was set for (or the uncalibrated caveat)."""
        if self.open_set is not None:
            return f"open-set {self.open_set.describe(gallery_people)}"
        return "" if self.operating is None else f"1:1 {self.operating.describe()}; {UNCALIBRATED}"


def gallery_photos(root: Path) -> list[Path]:
    """The photos of ``root/<person>/``, sorted."""
    return sorted(p for p in root.glob("*/*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def enrol_folder(model: TryModel, folder: str | Path) -> Enrolled:
    """Every photo of ``folder/<person>/`` with a face, embedded; unreadable or faceless photos are skipped and listed."""
    root = Path(folder)
    photos = gallery_photos(root)
    if not photos:
        raise FileNotFoundError(f"{root}: no photos in person folders; lay the gallery out as {root}/<person>/<photo>.jpg")
    crops, labels, skipped = [], [], []
    for path in progress(photos, "enrol gallery", total=len(photos)):
        try:
            crops.append(find_face(read_photo(path), model.detector, str(path)).crop)
            labels.append(path.parent.name)
        except (NoFace, UnreadablePhoto) as error:
            skipped.append((str(path), str(error)))
    if not crops:
        raise NoFace(f"{root}: no face found in any of its {len(photos)} photos")
    return Enrolled(Gallery.of(embed(model, crops), np.array(labels)), len(crops), skipped)


_ENROLMENTS: dict[tuple, Enrolled] = {}
KEPT_ENROLMENTS = 4


def enrolled_gallery(model: TryModel, folder: str | Path) -> Enrolled:
    """:func:`enrol_folder`, remembered while the model and the folder's photos (names, sizes, modification times) stay the same."""
    root = Path(folder).resolve()
    photos = tuple((str(p.relative_to(root)), stat.st_size, stat.st_mtime_ns) for p in gallery_photos(root) for stat in [p.stat()])
    key = (model.name, model.recogniser.sha256, model.flip, str(root), photos)
    if key not in _ENROLMENTS:
        while len(_ENROLMENTS) >= KEPT_ENROLMENTS:
            _ENROLMENTS.pop(next(iter(_ENROLMENTS)))
        _ENROLMENTS[key] = enrol_folder(model, root)
    return _ENROLMENTS[key]


def identify(model: TryModel, enrolled: Enrolled, photo: np.ndarray, name: str = "probe", top: int = 5) -> Identification:
    """The ``top`` enrolled people closest to the face in ``photo`` (each person's best gallery image)."""
    face = find_face(photo, model.detector, name)
    matches = search(enrolled.gallery, embed(model, [face.crop]), top_k=top)
    return Identification([str(p) for p in matches.people[0]], [float(s) for s in matches.scores[0]], model.open_set, model.operating, face)
