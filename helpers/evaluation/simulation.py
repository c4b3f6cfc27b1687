"""Scores with a known truth: a crossed person-effects model that the two-way bootstrap's coverage is checked against.

On the pairs :func:`helpers.evaluation.pairs.sample_pairs` forms for one simulated split:

    impostor score = v(person a) + v(person b) + w(image a) + w(image b) + e
    genuine score  = GENUINE_MEAN + u(person) + w(image a) + w(image b) + e

so both people of an impostor pair, and every image, shift many pairs at once, and the
population FMR at :data:`THRESHOLD` and AUC are known in closed form (:func:`true_values`).
Used by ``tests/code/test_bootstrap.py`` and ``benchmarks/bootstrap_coverage.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from helpers.evaluation.bootstrap import People
from helpers.evaluation.metrics import Roc, auc_of, fmr_of
from helpers.evaluation.pairs import sample_pairs

THRESHOLD = 1.5
SD = {"person": 0.5, "image": 0.4, "pair": 0.6, "genuine_person": 0.5}
GENUINE_MEAN = 2.5
GENUINE_PER_IDENTITY = 10
STATISTICS = ("fmr", "auc")


def crossed_scores(rng: np.random.Generator, n_people: int, images: int, max_impostors: int) -> tuple[np.ndarray, np.ndarray, People]:
    """Scores, labels and people of every pair of one simulated split (new people, images and noise each call)."""
    table = pd.DataFrame({"image_id": [f"{k:05d}" for k in range(n_people * images)], "identity": np.repeat(np.arange(n_people), images), "split": "test"})
    pairs = sample_pairs(table, GENUINE_PER_IDENTITY, max_impostors, int(rng.integers(1 << 30)))
    person = pairs.images["identity"].to_numpy()
    v, u = rng.normal(0, SD["person"], n_people), rng.normal(0, SD["genuine_person"], n_people)
    w = rng.normal(0, SD["image"], person.size)
    a, b, same = pairs.a, pairs.b, pairs.same
    shared = w[a] + w[b] + rng.normal(0, SD["pair"], a.size)
    scores = np.where(same, GENUINE_MEAN + u[person[a]], v[person[a]] + v[person[b]]) + shared
    return scores, same, People.of(same, person[a], person[b])


def true_values() -> dict[str, float]:
    """The population FMR at :data:`THRESHOLD` and AUC of :func:`crossed_scores`."""
    impostor_sd = math.sqrt(2 * SD["person"] ** 2 + 2 * SD["image"] ** 2 + SD["pair"] ** 2)
    genuine_sd = math.sqrt(SD["genuine_person"] ** 2 + 2 * SD["image"] ** 2 + SD["pair"] ** 2)
    return {"fmr": float(norm.sf(THRESHOLD / impostor_sd)), "auc": float(norm.cdf(GENUINE_MEAN / math.hypot(impostor_sd, genuine_sd)))}


def measure(curve: Roc | None) -> np.ndarray:
    """FMR at :data:`THRESHOLD` and AUC of a curve (NaNs for None), in :data:`STATISTICS` order."""
    return np.array([fmr_of(curve, THRESHOLD), auc_of(curve)]) if curve is not None else np.full(len(STATISTICS), np.nan)
