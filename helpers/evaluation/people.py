"""The person as the unit of analysis: pair weights that count each pair of people once, and how many people a rate rests on.

Pairs are many and people few: on full LFW one person takes part in over half of the val impostor
pairs. :func:`person_pair_weights` weighs every impostor pair by one over the number of pairs its two
people form, so each pair of people counts the same however many images they have (the operating
threshold is set at that FMR). :func:`people_behind` says how concentrated a set of pairs is: the
largest person's share and Kish's effective number of people, ``(sum c)^2 / sum c^2`` over each
person's pair count ``c`` (an impostor pair counts for both of its people).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

WEIGHTINGS = ("person", "pair")
"""How val impostor pairs weigh in the operating threshold: each pair of people once, or each image pair once."""


def person_pair_weights(identity_a: npt.ArrayLike, identity_b: npt.ArrayLike) -> np.ndarray:
    """One over the number of pairs each pair's two people form (unordered), so every pair of people weighs 1 in all."""
    names, codes = np.unique(np.concatenate([np.asarray(identity_a).astype(str), np.asarray(identity_b).astype(str)]), return_inverse=True)
    first, second = codes[: codes.size // 2].astype(np.int64), codes[codes.size // 2 :].astype(np.int64)
    key = np.minimum(first, second) * names.size + np.maximum(first, second)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


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
        "effective_people": float(counts.sum() ** 2 / (counts.astype(float) ** 2).sum()),
    }
