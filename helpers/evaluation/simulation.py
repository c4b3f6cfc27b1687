"""Scores with a known truth: a crossed person-effects model that the two-way bootstrap's coverage is checked against.

On the pairs :func:`helpers.evaluation.pairs.sample_pairs` forms for one simulated split:

    impostor score = v(person a) + v(person b) + w(image a) + w(image b) + e
    genuine score  = GENUINE_MEAN + u(person) + w(image a) + w(image b) + e

so both people of an impostor pair, and every image, shift many pairs at once, and the
population FMR at :data:`THRESHOLD` and AUC are known in closed form (:func:`true_values`).
Used by ``tests/code/test_bootstrap.py`` and ``benchmarks/bootstrap_coverage.py``.

:func:`skewed_split` is the harder, LFW-like case the summary's primary inference must survive
(``tests/code/test_coverage.py``, ``benchmarks/primary_coverage.py``): images per person drawn from a
capped Zipf law (most people 2-5 images, a few over 100), person effects Student t with 3 degrees of
freedom, and two models scored on the same pairs. Each effect of the formulas above is a part both
models share plus a part of each model's own (:data:`SHARED` of its variance shared); model B's genuine
scores sit :data:`SHIFT` higher. Image counts are independent of the effects, so the population
rates are those of the formulas whatever the counts, whichever way the pairs are weighted, and
:func:`impostor_tail` and :func:`genuine_tail` give them by inverting the characteristic function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.stats import norm

from helpers.evaluation.bootstrap import People
from helpers.evaluation.conditions import HQ_CONDITION
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


def measure(curve: Roc | None, threshold: float = THRESHOLD) -> np.ndarray:
    """FMR at ``threshold`` and AUC of a curve (NaNs for None), in :data:`STATISTICS` order."""
    return np.array([fmr_of(curve, threshold), auc_of(curve)]) if curve is not None else np.full(len(STATISTICS), np.nan)


ZIPF_EXPONENT = 2.0
"""Images per person are one plus a Zipf draw with this exponent: 61% of people have 2, about 0.6% over 100."""
MAX_IMAGES = 300
"""No one has more images than this (LFW's largest has 530): keeps a split's impostor pairs few enough to draw fast."""
PRIMARY_GENUINE_MEAN = 3.3
"""Model A's genuine mean in :func:`skewed_split`: TAR@FAR=1e-2 0.79 (B: 0.83), off the ceiling as the demo's primary is
(at 4.8 TAR@FAR=1e-3 is 0.78 and TAR@FAR=1e-2 0.990, a difference of 0.003 that a few hundred genuine pairs cannot resolve)."""
SHIFT = 0.15
"""Model B's genuine scores sit this much above model A's."""
SHARED = 0.8
"""The share of each effect's variance that models A and B have in common."""
PRIMARY_FAR = 1e-2
"""The FAR of the primary the workbench's configs declare (TAR@FAR=1e-2)."""
NOISE_SD = math.sqrt(2 * SD["image"] ** 2 + SD["pair"] ** 2)
"""The SD of the normal part of a score: two image effects and the pair's own noise."""
_PARTS = (math.sqrt(SHARED), math.sqrt(1 - SHARED))
"""The SD of an effect's shared and own parts, as shares of its SD."""

Draw = Callable[[np.random.Generator, float, int], np.ndarray]


def skewed_counts(rng: np.random.Generator, n_people: int) -> np.ndarray:
    """LFW-like images per person: one plus a Zipf draw (:data:`ZIPF_EXPONENT`), at most :data:`MAX_IMAGES`."""
    return np.minimum(1 + rng.zipf(ZIPF_EXPONENT, n_people), MAX_IMAGES)


def heavy(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    """Student t effects with 3 degrees of freedom (variance 3 unscaled), scaled to standard deviation ``sd``."""
    return rng.standard_t(3, size) * sd / math.sqrt(3)


def normal(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    """Normal effects with standard deviation ``sd``."""
    return rng.normal(0, sd, size)


def two_models(draw: Draw, rng: np.random.Generator, sd: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One effect as models A and B see it: a shared part plus each model's own, both drawn by ``draw``, total SD ``sd``."""
    shared = draw(rng, sd * _PARTS[0], size)
    return shared + draw(rng, sd * _PARTS[1], size), shared + draw(rng, sd * _PARTS[1], size)


@dataclass(frozen=True)
class PairedSplit:
    """The pairs of one simulated split, as person codes, and models A's and B's scores on them."""

    scores: tuple[np.ndarray, np.ndarray]
    same: np.ndarray
    identity_a: np.ndarray
    identity_b: np.ndarray
    images: np.ndarray  # per person

    def people(self) -> People:
        return People.of(self.same, self.identity_a, self.identity_b)

    def frame(self, model: int) -> pd.DataFrame:
        """The pairs as val scores: ``identity_a``, ``identity_b``, ``same``, and model ``model``'s scores as HQ-HQ."""
        return pd.DataFrame({"identity_a": self.identity_a, "identity_b": self.identity_b, "same": self.same, HQ_CONDITION: self.scores[model]})


def skewed_split(rng: np.random.Generator, n_people: int, max_impostors: int, genuine_mean: float = PRIMARY_GENUINE_MEAN) -> PairedSplit:
    """One split of new people (LFW-like image counts, t3 person effects) and its pairs, scored by models A and B
    (model A's genuine scores centred on ``genuine_mean``)."""
    counts = skewed_counts(rng, n_people)
    identity = np.repeat(np.arange(n_people), counts)
    table = pd.DataFrame({"image_id": [f"{k:06d}" for k in range(identity.size)], "identity": identity, "split": "test"})
    pairs = sample_pairs(table, GENUINE_PER_IDENTITY, max_impostors, int(rng.integers(1 << 30)))
    person, a, b, same = pairs.images["identity"].to_numpy(), pairs.a, pairs.b, pairs.same
    v, u = (two_models(heavy, rng, SD[key], n_people) for key in ("person", "genuine_person"))
    w, e = two_models(normal, rng, SD["image"], person.size), two_models(normal, rng, SD["pair"], a.size)
    scores = [np.where(same, genuine_mean + m * SHIFT + u[m][person[a]], v[m][person[a]] + v[m][person[b]]) + w[m][a] + w[m][b] + e[m] for m in range(2)]
    return PairedSplit((scores[0], scores[1]), same, person[a], person[b], counts)


def tail_of_sum(x: float, t_sds: Sequence[float], normal_sd: float) -> float:
    """``P(X > x)``, X the sum of independent t3 effects with SDs ``t_sds`` and a normal one with SD ``normal_sd``:
    Gil-Pelaez inversion of X's characteristic function (a t3 with SD s has ``(1 + s|w|) exp(-s|w|)``)."""

    def integrand(w: float) -> float:
        cf = math.exp(-0.5 * (normal_sd * w) ** 2) * math.prod((1 + s * w) * math.exp(-s * w) for s in t_sds)
        return x * float(np.sinc(w * x / math.pi)) * cf  # sin(w x) / w times the CF

    return 0.5 - quad(integrand, 0, 10 / normal_sd, limit=500, epsabs=1e-13)[0] / math.pi


def impostor_tail(threshold: float) -> float:
    """The population FMR at ``threshold`` of :func:`skewed_split` (both models alike)."""
    return tail_of_sum(threshold, [SD["person"] * part for part in _PARTS] * 2, NOISE_SD)


def genuine_tail(threshold: float, model: int, genuine_mean: float = PRIMARY_GENUINE_MEAN) -> float:
    """The population TAR at ``threshold`` of model ``model`` (0: A, 1: B) of :func:`skewed_split`; FNMR is one minus it."""
    return tail_of_sum(threshold - genuine_mean - model * SHIFT, [SD["genuine_person"] * part for part in _PARTS], NOISE_SD)


def threshold_at(fmr: float) -> float:
    """The population threshold at ``fmr``: where :func:`impostor_tail` equals it."""
    return float(brentq(lambda t: impostor_tail(t) - fmr, 0.0, 20.0, xtol=1e-12))


def primary_truth(far: float = PRIMARY_FAR, genuine_mean: float = PRIMARY_GENUINE_MEAN) -> dict[str, float]:
    """The population TAR at ``far`` of models A and B of :func:`skewed_split`, and the difference B - A."""
    threshold = threshold_at(far)
    tar = [genuine_tail(threshold, model, genuine_mean) for model in range(2)]
    return {"threshold": threshold, "tar_a": tar[0], "tar_b": tar[1], "difference": tar[1] - tar[0]}
