"""Gallery search: probes against enrolled people as one batched matrix product over L2-normalised embeddings.

A person's score is the best cosine over their gallery images (max fusion).
Probes whose face was not acquired score :data:`NO_FACE_SCORE` against everyone:
they are never identified and never raise a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NO_FACE_SCORE = -2.0
"""The score of a probe without a face against every person, below every cosine."""


@dataclass(frozen=True)
class Gallery:
    """Enrolled embeddings sorted by person, so each person's images are one contiguous block."""

    vectors: np.ndarray
    people: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, vectors: npt.ArrayLike, labels: npt.ArrayLike) -> Gallery:
        """A gallery from one embedding per row and the person each row belongs to."""
        vectors, labels = np.asarray(vectors, dtype=np.float32), np.asarray(labels)
        if vectors.ndim != 2 or len(vectors) != len(labels) or not len(labels):
            raise ValueError(f"a gallery needs one label per embedding row, got {vectors.shape} embeddings and {len(labels)} labels")
        order = np.argsort(labels, kind="stable")
        people, starts = np.unique(labels[order], return_index=True)
        return cls(vectors[order], people, starts)

    def __len__(self) -> int:
        return len(self.people)


@dataclass(frozen=True)
class Matches:
    """The ``top_k`` people of each probe, best first, and each probe's score against every person it was compared with."""

    people: np.ndarray
    scores: np.ndarray


def person_scores(gallery: Gallery, probes: np.ndarray) -> np.ndarray:
    """Probes x people: each person's best cosine with each probe."""
    image_scores = np.asarray(probes, dtype=np.float32) @ gallery.vectors.T
    if len(gallery.starts) == len(gallery.vectors):  # one image per person: nothing to fuse
        return image_scores
    return np.maximum.reduceat(image_scores, gallery.starts, axis=1)


def search(gallery: Gallery, probes: npt.ArrayLike, acquired: npt.ArrayLike | None = None, top_k: int = 20, block: int = 256) -> Matches:
    """The ``top_k`` best people for every probe, ``block`` probes per matrix product; un-acquired probes get :data:`NO_FACE_SCORE`."""
    probes = np.asarray(probes, dtype=np.float32)
    acquired = np.ones(len(probes), dtype=bool) if acquired is None else np.asarray(acquired, dtype=bool)
    k = min(top_k, len(gallery))
    people = np.empty((len(probes), k), dtype=np.int64)
    scores = np.empty((len(probes), k), dtype=np.float32)
    for start in range(0, len(probes), block):
        chunk = person_scores(gallery, probes[start : start + block])
        best = np.argpartition(chunk, chunk.shape[1] - k, axis=1)[:, -k:]
        order = np.take_along_axis(chunk, best, axis=1).argsort(axis=1)[:, ::-1]
        people[start : start + block] = np.take_along_axis(best, order, axis=1)
        scores[start : start + block] = np.take_along_axis(chunk, people[start : start + block], axis=1)
    scores[~acquired] = NO_FACE_SCORE
    return Matches(gallery.people[people], scores)


def ranks_and_scores(
    gallery: Gallery, probes: npt.ArrayLike, labels: npt.ArrayLike, acquired: npt.ArrayLike | None = None, block: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Each probe's own person's rank (1 = best) among all enrolled people, and its score against that person, in one pass;
    a probe not acquired has rank ``inf`` and score :data:`NO_FACE_SCORE`.

    Ties are ranked pessimistically: a person scoring equal to the true one counts as ahead of it.
    """
    probes, labels = np.asarray(probes, dtype=np.float32), np.asarray(labels)
    column = np.searchsorted(gallery.people, labels)
    if np.any(column >= len(gallery)) or np.any(gallery.people[np.minimum(column, len(gallery) - 1)] != labels):
        raise ValueError("ranking needs enrolled probes: some labels are not in the gallery")
    ranks, own = np.empty(len(probes)), np.empty(len(probes), dtype=np.float32)
    for start in range(0, len(probes), block):
        chunk = person_scores(gallery, probes[start : start + block])
        own[start : start + block] = chunk[np.arange(len(chunk)), column[start : start + block]]
        ranks[start : start + block] = (chunk >= own[start : start + block, None]).sum(axis=1)
    if acquired is not None:
        missing = ~np.asarray(acquired, dtype=bool)
        ranks[missing], own[missing] = np.inf, NO_FACE_SCORE
    return ranks, own


def true_ranks(gallery: Gallery, probes: npt.ArrayLike, labels: npt.ArrayLike, acquired: npt.ArrayLike | None = None, block: int = 256) -> np.ndarray:
    """The rank (1 = best) of each probe's own person among all enrolled people; ``inf`` for a probe not acquired (pessimistic ties)."""
    return ranks_and_scores(gallery, probes, labels, acquired, block)[0]


def cmc(ranks: npt.ArrayLike, max_rank: int) -> np.ndarray:
    """Cumulative match characteristic: the share of probes whose own person is within rank 1, 2, ..., ``max_rank``."""
    ranks = np.asarray(ranks, dtype=float)
    if not len(ranks):
        raise ValueError("cmc needs at least one probe")
    return np.array([(ranks <= k).mean() for k in range(1, max_rank + 1)])
