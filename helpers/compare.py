"""Before/after comparison of two models scored on the same pairs (``scores.csv`` files).

Differences come from :func:`helpers.metrics.paired_identity_bootstrap`: both
models' scores on each pair are resampled together, identity by identity, so
the interval reflects that the pairs are shared and correlated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from helpers import metrics

PAIR_KEY = ["condition", "path_a", "path_b"]
STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "auc": metrics.auc,
    "tar@1e-3": lambda scores, same: metrics.tar_at_far(scores, same, 1e-3),
}


def shared_pairs(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The pairs both score files hold, side by side (``score_before``, ``score_after``).

    Raises when the files disagree on a pair's labels, or share no pairs: then
    they were not scored under the same protocol and cannot be compared as pairs.
    """
    merged = before.merge(after, on=PAIR_KEY, suffixes=("_before", "_after"), validate="one_to_one")
    if merged.empty:
        raise ValueError("the two score files share no (condition, path_a, path_b) pair: were they scored on the same split and seed?")
    for column in ("same", "identity_a", "identity_b"):
        if not (merged[f"{column}_before"] == merged[f"{column}_after"]).all():
            raise ValueError(f"the two score files disagree on '{column}' for the same pairs")
    return merged.rename(columns={"same_before": "same", "identity_a_before": "identity_a", "identity_b_before": "identity_b"})


def paired_differences(before: pd.DataFrame, after: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per condition and statistic: before, after, their difference with a 95% identity-bootstrap CI and p-value."""
    merged = shared_pairs(before, after)
    rows = []
    for condition, group in merged.groupby("condition", sort=False):
        same = group["same"].to_numpy().astype(bool)
        for name, statistic in STATISTICS.items():
            diff = metrics.paired_identity_bootstrap(
                group["score_before"].to_numpy(), group["score_after"].to_numpy(), same,
                group["identity_a"].to_numpy(), group["identity_b"].to_numpy(), statistic, n_boot=n_boot, seed=seed,
            )
            rows.append({
                "condition": condition, "statistic": name, "pairs": len(group),
                "before": statistic(group["score_before"].to_numpy(), same), "after": statistic(group["score_after"].to_numpy(), same),
                "diff": diff["diff"], "low": diff["low"], "high": diff["high"], "p_value": diff["p_value"],
            })
    return pd.DataFrame(rows)
