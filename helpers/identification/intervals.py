"""Intervals for identification rates: a bootstrap over people, since a person's probes are not independent."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from helpers.evaluation.bootstrap import interval


def person_rate(hits: npt.ArrayLike, people: npt.ArrayLike, n_boot: int, seed: int) -> dict[str, float | int | str | None]:
    """The share of ``hits`` among probes, with a 95% interval from resampling the probes' people with replacement.

    Each drawn person brings all of their probes, so the interval reflects how many
    people (not how many images) the rate rests on.
    """
    hits, people = np.asarray(hits, dtype=float), np.asarray(people)
    if not len(hits):
        return {"value": None, "ci_low": None, "ci_high": None, "probes": 0, "people": 0, "resampled": "people"}
    codes = np.unique(people, return_inverse=True)[1]
    counts = np.bincount(codes).astype(float)
    sums = np.bincount(codes, weights=hits)
    draws = np.random.default_rng(seed).multinomial(len(counts), np.full(len(counts), 1 / len(counts)), size=n_boot)
    low, high = interval((draws @ sums) / (draws @ counts))
    finite = np.isfinite([low, high]).all()
    return {
        "value": float(hits.mean()),
        "ci_low": float(low) if finite else None,
        "ci_high": float(high) if finite else None,
        "probes": len(hits),
        "people": len(counts),
        "resampled": "people",
    }
