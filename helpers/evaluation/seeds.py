"""Across identity splits: the primary endpoint's mean and spread over split seeds, beside each split's bootstrap interval.

The bootstrap interval of one run says how much the result would move with
other people drawn like these; repeating the whole pipeline over split seeds
(``split_seeds`` in a config) shows how much it moves with another split of the
same dataset into train, val and test. Notebook 05 of each seed lists the
comparisons of the seeds run so far (``{seeds.05_compare}``), so the last seed's
report holds them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _spread(values: list[float | None]) -> dict[str, Any]:
    """Per-seed values, their mean, sample SD (ddof=1), min and max; None where a seed has no value."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    return {
        "values": values,
        "mean": float(np.mean(finite)) if finite else None,
        "sd": sd,
        "min": min(finite, default=None),
        "max": max(finite, default=None),
    }


def across_seeds(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The primary endpoint over notebook-04 reports of several split seeds: each model's value and each gain.

    Raises unless every report declares the same primary endpoint, reads it with the same statistic (its
    stand-in where the declared one is not estimable) and compares the same models.
    """
    first = reports[0]
    for report in reports[1:]:
        if (report["endpoint"], report["model_order"], report["primary"]["statistic_used"]) != (
            first["endpoint"],
            first["model_order"],
            first["primary"]["statistic_used"],
        ):
            raise ValueError(
                f"the split seeds' comparisons differ (endpoint {report['endpoint']} vs {first['endpoint']}, "
                f"models {report['model_order']} vs {first['model_order']}): they cannot be pooled"
            )
    primary = [report["primary"] for report in reports]
    return {
        "seeds": len(reports),
        "condition": first["primary"]["condition"],
        "statistic": first["primary"]["statistic_used"],
        "models": {model: _spread([p["models"][model]["value"] for p in primary]) for model in first["model_order"]},
        "gains": {model: _spread([p["gains"].get(model, {}).get("diff") for p in primary]) for model in first["model_order"][1:]},
    }
