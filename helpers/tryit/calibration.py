"""A threshold set on the user's own photos (``lqface calibrate FOLDER``): FOLDER/<person>/<photo>, every pair of photos
scored, the threshold where the impostor pairs are accepted at the target FMR, each pair of people weighing the same
(notebook 02's rule, :func:`helpers.evaluation.thresholds.operating_point`), checked for support by the rule of 30."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import write_json_atomic
from helpers.evaluation.conditions import HQ_CONDITION
from helpers.evaluation.metrics import min_units
from helpers.evaluation.thresholds import SUPPORTED, operating_point
from helpers.identification.search import Gallery
from helpers.tryit.shipped import quantiles_of
from helpers.tryit.thresholds import Operating


class CalibrationMismatch(ValueError):
    """A calibration file that is unreadable or was made with another model."""


@dataclass(frozen=True)
class Calibration:
    """Where a threshold was set on a user's folder, at what FMR, on how many people, and for which model."""

    threshold: float | None
    fmr: float | None
    fmr_target: float
    support: str
    folder: str
    model: str
    recogniser_sha256: str
    people: int
    images: int
    people_pairs: float
    impostor_pairs: int
    genuine_pairs: int
    fnmr: float | None
    impostors: dict[str, float]
    date: str

    def operating(self) -> Operating:
        """The threshold as the 1:1 decisions use it."""
        if self.threshold is None:
            raise CalibrationMismatch(f"the calibration on {self.folder} holds no threshold: {self.warning()}")
        return Operating(self.threshold, self.fmr, f"calibrated on {self.folder}, {self.people} people, {self.date}", self.impostors)

    def warning(self) -> str:
        """The rule-of-30 warning when the folder's people do not support the target FMR (empty when they do)."""
        if self.support == SUPPORTED:
            return ""
        found = (
            f"{self.people} people form {self.people_pairs:,.0f} pairs of people, fewer than the {min_units(self.fmr_target):,} that FMR "
            f"{self.fmr_target:g} needs (rule of 30: 30 false matches expected, counted in pairs of people)"
        )
        if self.fmr is None:
            return f"{found}; no FMR up to 0.1 is supported: add people to the folder"
        return f"{found}: the threshold is set at FMR {self.fmr:g} instead; add people to the folder to reach {self.fmr_target:g}"


def row_labels(gallery: Gallery) -> np.ndarray:
    """The person of each of a gallery's rows."""
    counts = np.diff(np.append(gallery.starts, len(gallery.vectors)))
    return np.repeat(gallery.people, counts)


def pair_scores(gallery: Gallery) -> pd.DataFrame:
    """Every pair of a gallery's photos (never a photo with itself): the people and the cosine score."""
    labels = row_labels(gallery)
    first, second = np.triu_indices(len(labels), k=1)
    scores = np.einsum("ij,ij->i", gallery.vectors[first], gallery.vectors[second])
    return pd.DataFrame(
        {"identity_a": labels[first], "identity_b": labels[second], "same": labels[first] == labels[second], HQ_CONDITION: scores.astype(float)}
    )


def calibrate(gallery: Gallery, fmr: float, folder: str, model: str, sha256: str) -> Calibration:
    """The threshold at ``fmr`` on the pairs of an enrolled folder (the FMR its people support when they do not support ``fmr``)."""
    pairs = pair_scores(gallery)
    if pairs["same"].all() or len(gallery) < 2:
        raise ValueError(f"{folder}: calibration needs photos of at least two people (one sub-folder each)")
    point = operating_point(pairs, fmr)
    same = pairs["same"].to_numpy()
    impostor, genuine = pairs.loc[~same, HQ_CONDITION].to_numpy(), pairs.loc[same, HQ_CONDITION].to_numpy()
    threshold = point["threshold"]
    fnmr = None if threshold is None or not genuine.size else float(np.mean(genuine < threshold))
    return Calibration(
        threshold=threshold,
        fmr=point["fmr"],
        fmr_target=fmr,
        support=point["support"],
        folder=folder,
        model=model,
        recogniser_sha256=sha256,
        people=len(gallery),
        images=len(gallery.vectors),
        people_pairs=point["val_people_pairs"],
        impostor_pairs=int(impostor.size),
        genuine_pairs=int(genuine.size),
        fnmr=fnmr,
        impostors=quantiles_of(impostor),
        date=datetime.now(UTC).date().isoformat(),
    )


def write_calibration(calibration: Calibration, target: Path) -> Path:
    """The calibration as JSON, written atomically."""
    write_json_atomic(target, asdict(calibration))
    return target


def read_calibration(path: Path, sha256: str) -> Calibration:
    """A calibration file, checked to belong to the recogniser ``sha256``."""
    try:
        found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        calibration = Calibration(**found)
    except (OSError, ValueError, TypeError) as error:
        raise CalibrationMismatch(f"--calibration {path}: not a calibration file of lqface calibrate ({error})") from None
    if calibration.recogniser_sha256 != sha256:
        raise CalibrationMismatch(f"--calibration {path}: made with model {calibration.model}, not this one; pass the same --model as to calibrate")
    return calibration
