"""The person as the unit of analysis: pair weights that count each pair of people once, and how many people a rate rests on.

Pairs are many and people few: on full LFW one person takes part in over half of the val impostor
pairs. :func:`person_pair_weights` weighs every impostor pair by one over the number of pairs its two
people form, so each pair of people counts the same however many images they have (the operating
threshold is set at that FMR). :func:`people_behind` says how concentrated a set of pairs is: the
largest person's share and Kish's effective number of people, ``(sum c)^2 / sum c^2`` over each
person's pair count ``c`` (an impostor pair counts for both of its people). The rule of 30 counts errors in
people (:func:`helpers.evaluation.metrics.estimable`): the effective number of people behind genuine pairs,
and of pairs of people behind impostor pairs (:func:`effective_pairs_of_people`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

WEIGHTINGS = ("person", "pair")
"""How val impostor pairs weigh in the operating threshold: each pair of people once, or each image pair once."""


def pair_keys(first: np.ndarray, second: np.ndarray, count: int) -> np.ndarray:
    """One integer per unordered pair of person codes below ``count``: equal keys, the same two people."""
    first, second = first.astype(np.int64), second.astype(np.int64)
    return np.minimum(first, second) * count + np.maximum(first, second)


def pairs_of_people(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike) -> np.ndarray:
    """Per pair, a code for its unordered pair of people (0, 1, ...; equal codes: the same two people)."""
    names, codes = np.unique(np.concatenate([np.asarray(identity_a).astype(str), np.asarray(identity_b).astype(str)]), return_inverse=True)
    return np.unique(pair_keys(codes[: codes.size // 2], codes[codes.size // 2 :], names.size), return_inverse=True)[1].ravel()


def person_pair_weights(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike) -> np.ndarray:
    """One over the number of pairs each pair's two people form (unordered), so every pair of people weighs 1 in all."""
    codes = pairs_of_people(identity_a, identity_b)
    return 1.0 / np.bincount(codes)[codes]


def effective_pairs_of_people(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """How many independent pairs of people a rate over these impostor pairs rests on: Kish over each pair of people's
    total weight. Person-weighted (every pair of people weighing 1), it is the number of pairs of people."""
    codes = pairs_of_people(identity_a, identity_b)
    return kish(np.bincount(codes, weights=np.asarray(weights, dtype=float))) if codes.size else 0.0


def kish(totals: npt.ArrayLike) -> float:
    """Kish's effective number of units with these total weights: ``(sum w)^2 / sum w^2`` (0 for none)."""
    w = np.asarray(totals, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum()) if w.size and w.sum() > 0 else 0.0


def pair_weights(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike, weighting: str) -> np.ndarray:
    """Each pair's weight under ``weighting`` (:data:`WEIGHTINGS`)."""
    if weighting == "person":
        return person_pair_weights(identity_a, identity_b)
    if weighting == "pair":
        return np.ones(np.asarray(identity_a).size)
    raise ValueError(f"threshold weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def people_behind(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike, genuine: bool) -> dict[str, Any]:
    """How many people a set of pairs rests on: people, the largest person's share of the pairs, Kish's effective number.

    ``genuine``: the pairs are genuine (each counts for its one person) or impostor (each counts for both of its people).
    """
    first = np.asarray(identity_a).astype(str)
    involved = first if genuine else np.concatenate([first, np.asarray(identity_b).astype(str)])
    if involved.size == 0:
        return {"people": 0, "largest_share": None, "largest_person": None, "effective_people": 0.0}
    names, counts = np.unique(involved, return_counts=True)
    top = int(np.argmax(counts))
    return {
        "people": int(names.size),
        "largest_share": float(counts[top] / first.size),
        "largest_person": str(names[top]),
        "effective_people": kish(counts),
    }
