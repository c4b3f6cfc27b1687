"""Open-set identification: enrol some people of a split, search probes of enrolled and never-enrolled people.

Per split, a seeded share of the people with at least ``gallery_per_person + 1``
images is enrolled with ``gallery_per_person`` images each (the gallery, at full
quality); their other images are *known* probes. Every image of a person not
enrolled is an *unknown* probe. The acceptance threshold is set on the val split's
unknown probes at a target FPIR (false-positive identification rate: the share of
unknown probes whose best match scores at or above it) and applied unchanged to test.
By default every val person counts once in that FPIR, spread over all their images, so
one person with hundreds of images (LFW's George_W_Bush) cannot set the threshold alone.
DIR (detection and identification rate) is the share of known probes whose own
person ranks first and scores at or above the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from helpers.data.split import stable_unit
from helpers.evaluation.metrics import threshold_at_fmr
from helpers.identification.search import Gallery, ranks_and_scores, search

GALLERY, KNOWN, UNKNOWN = "gallery", "known", "unknown"
RANKS = (1, 5, 10, 20)


def enrol(images: pd.DataFrame, enrol_fraction: float, gallery_per_person: int, seed: int) -> pd.DataFrame:
    """``images`` (one split: ``identity``, ``sha256``) with a ``role`` column: gallery, known or unknown. Seeded and stable.

    ``enrol_fraction`` of the people (rounded, at least one, never all) are enrolled, drawn in a seeded order among those
    with more than ``gallery_per_person`` images; their first ``gallery_per_person`` images in a seeded order form the gallery.
    """
    if not 0 < enrol_fraction < 1:
        raise ValueError(f"enrol_fraction must lie strictly between 0 and 1, got {enrol_fraction}")
    if gallery_per_person < 1:
        raise ValueError(f"gallery_per_person must be at least 1, got {gallery_per_person}")
    counts = images.groupby("identity")["sha256"].size()
    eligible = sorted(counts.index[counts > gallery_per_person], key=lambda person: stable_unit(seed, "enrol", person))
    wanted = min(max(round(enrol_fraction * len(counts)), 1), len(counts) - 1)
    enrolled = images["identity"].isin(eligible[:wanted])
    order = images["sha256"].map(lambda sha: stable_unit(seed, "gallery", sha)).groupby(images["identity"]).rank(method="first")
    role = np.where(~enrolled, UNKNOWN, np.where(order <= gallery_per_person, GALLERY, KNOWN))
    out = images.assign(role=role)
    if not (out["role"] == KNOWN).any() or not (out["role"] == UNKNOWN).any():
        raise ValueError(
            f"{images['identity'].nunique()} people cannot give both known and unknown probes at enrol_fraction={enrol_fraction}, "
            f"gallery_per_person={gallery_per_person}: use a split with more people, or people with more images"
        )
    return out


CALIBRATION_WEIGHTS = ("person", "image")


def calibration_weights(people: npt.ArrayLike, kind: str) -> np.ndarray:
    """Each val probe's weight in the FPIR the threshold is set at.

    ``person``: one over that person's number of probes, so each person counts once however many images they
    have (as in NIST's one non-mated search per subject, averaged over all of them); ``image``: one per probe.
    """
    people = np.asarray(people)
    if kind == "image":
        return np.ones(len(people))
    if kind == "person":
        _, codes, counts = np.unique(people, return_inverse=True, return_counts=True)
        return 1 / counts[codes]
    raise ValueError(f"calibration_weights must be one of {CALIBRATION_WEIGHTS}, got {kind!r}")


@dataclass(frozen=True)
class Probes:
    """Probe embeddings of one view, their people, and whether their face was acquired."""

    vectors: np.ndarray
    people: np.ndarray
    acquired: np.ndarray


@dataclass(frozen=True)
class Searched:
    """One view's open-set search: known probes' own-person ranks and scores, and unknown probes' best scores."""

    known_ranks: np.ndarray
    known_own: np.ndarray
    unknown_top: np.ndarray
    known_people: np.ndarray
    unknown_people: np.ndarray
    known_acquired: np.ndarray
    unknown_acquired: np.ndarray

    @property
    def identified_scores(self) -> np.ndarray:
        """Each known probe's own-person score where it ranks first, else -inf (never a correct identification)."""
        return np.where(self.known_ranks == 1, self.known_own, -np.inf)


def best_scores(gallery: Gallery, probes: Probes) -> np.ndarray:
    """Each probe's best-match score (:data:`~helpers.identification.search.NO_FACE_SCORE` without a face)."""
    return search(gallery, probes.vectors, probes.acquired, 1).scores[:, 0]


def run_search(gallery: Gallery, known: Probes, unknown: Probes) -> Searched:
    """Search known and unknown probes against ``gallery``."""
    ranks, own = ranks_and_scores(gallery, known.vectors, known.people, known.acquired)
    return Searched(ranks, own, best_scores(gallery, unknown), known.people, unknown.people, known.acquired, unknown.acquired)


def threshold_at_fpir(unknown_scores: npt.ArrayLike, target: float, weights: npt.ArrayLike | None = None) -> float:
    """The lowest threshold whose FPIR on ``unknown_scores`` (best-match scores of unknown probes) is at most ``target``.

    With ``weights``, FPIR is the weighted share of probes at or above the threshold (:func:`calibration_weights`):
    :func:`~helpers.evaluation.metrics.threshold_at_fmr` with every probe a non-mated search.
    """
    scores = np.asarray(unknown_scores, dtype=np.float64)
    if not len(scores):
        raise ValueError("threshold_at_fpir needs unknown probes")
    return threshold_at_fmr(scores, np.zeros(len(scores), dtype=bool), target, weights)


def fpir(unknown_scores: npt.ArrayLike, threshold: float) -> float:
    """Share of unknown probes whose best match reaches ``threshold``."""
    return float(np.mean(np.asarray(unknown_scores) >= threshold))


def dir_at(searched: Searched, threshold: float) -> np.ndarray:
    """Per known probe: identified (own person first) and accepted (score at or above ``threshold``)."""
    return searched.identified_scores >= threshold


def dir_fpir_curve(searched: Searched) -> pd.DataFrame:
    """DIR against FPIR over every threshold the unknown probes define (descriptive: the operating point comes from val)."""
    thresholds = np.unique(np.concatenate([searched.unknown_top, [np.inf]]))[::-1]
    return pd.DataFrame(
        {"threshold": thresholds, "fpir": _share_at_least(searched.unknown_top, thresholds), "dir": _share_at_least(searched.identified_scores, thresholds)}
    )


def _share_at_least(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    ordered = np.sort(scores)
    return 1 - np.searchsorted(ordered, thresholds, side="left") / len(ordered)
