"""Does a quality measure track degradation? Spearman's rank correlation between each measure and each curve's severity.

A curve is one family of single-factor levels (a plain factor, or a preset over resolution) with the HQ image at its
start. Each level gets a severity that grows with how strongly it degrades; a measure that notices the degradation
falls as the severity grows, so its correlation is negative. Only the test split counts, and only faces acquired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from helpers.data.chains import PRESETS
from helpers.data.degrade import HQ, Degradation
from helpers.data.faces import CROP_SIZE
from helpers.evaluation.conditions import MODES

NOTICE_RHO = -0.3
"""A measure notices a curve when its rank correlation with the severity is at or below this: it falls, moderately at least."""
HQ_SEVERITY = 0.0
"""The HQ image's severity on every curve: below every level's (each is > 0), so HQ starts each curve."""
SPLIT = "test"
"""The split the correlations and figures read."""
JPEG_BEST = 100
"""JPEG's highest quality setting."""
CORRELATION_COLUMNS = ["curve", "measure", "rho", "images", "levels", "failures", "notices"]


def severity(level: Degradation) -> tuple[str, float] | None:
    """``(curve, severity)`` of a single-factor level, the severity > 0 and growing as the level degrades more; None for
    mixes and HQ (whose severity is :data:`HQ_SEVERITY` on every curve).

    Resolution and presets: 112 px over the face resolution. JPEG: 100 over the quality. Light: 1 over the brightness
    factor. Blur, noise and motion blur: their own sigma or length.
    """
    point = level.curve_point
    if point is None:
        return None
    curve, x = point
    if curve == "resolution" or curve in PRESETS:
        return curve, CROP_SIZE / x
    if curve == "jpeg":
        return curve, JPEG_BEST / x
    if curve == "light":
        return curve, 1 / x
    return curve, float(x)


def level_curves(levels: Sequence[Degradation]) -> dict[str, list[Degradation]]:
    """``{curve: its levels, mildest first}`` of the single-factor levels among ``levels``, curves in order of appearance."""
    curves: dict[str, list[Degradation]] = {}
    for level in levels:
        if (found := severity(level)) is not None:
            curves.setdefault(found[0], []).append(level)
    return {curve: sorted(members, key=lambda level: severity(level)[1]) for curve, members in curves.items()}


def curve_rows(table: pd.DataFrame, members: Sequence[Degradation], mode: str) -> pd.DataFrame:
    """The test rows of ``mode`` at the levels ``members`` of one curve plus the HQ rows (whatever their mode: the table
    has them once, as oracle), with a ``severity`` column."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    severities = {HQ.name: HQ_SEVERITY} | {level.name: severity(level)[1] for level in members}
    test = table[table["split"] == SPLIT]
    chosen = test[(test["level"] == HQ.name) | (test["level"].isin(severities) & (test["mode"] == mode))]
    return chosen.assign(severity=chosen["level"].map(severities))


def level_correlations(table: pd.DataFrame, levels: Sequence[Degradation], measures: Sequence[str], mode: str) -> pd.DataFrame:
    """Per curve among ``levels`` and per measure: Spearman's rho (ties averaged) between the measure and the severity over
    :func:`curve_rows`, acquired rows with a finite measure only.

    Columns: ``curve``, ``measure``, ``rho`` (NaN when the measure or the severity is constant), ``images`` (rows used),
    ``levels`` (levels among them, HQ included), ``failures`` (rows not acquired, left out) and ``notices``
    (rho <= :data:`NOTICE_RHO`).
    """
    _check_columns(table, measures)
    records = []
    for curve, members in level_curves(levels).items():
        rows = curve_rows(table, members, mode)
        acquired = rows[rows["acquired"].astype(bool)]
        failures = len(rows) - len(acquired)
        for measure in measures:
            used = acquired[np.isfinite(acquired[measure].to_numpy(dtype=float))]
            rho = _spearman(used["severity"].to_numpy(dtype=float), used[measure].to_numpy(dtype=float))
            records.append([curve, measure, rho, len(used), used["level"].nunique(), failures, bool(rho <= NOTICE_RHO)])
    return pd.DataFrame(records, columns=CORRELATION_COLUMNS)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of ``x`` and ``y``, ties averaged; NaN when either is constant (or empty)."""
    if np.unique(x).size < 2 or np.unique(y).size < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _check_columns(table: pd.DataFrame, measures: Sequence[str]) -> None:
    """The quality table has the columns the correlations read."""
    missing = [c for c in ("split", "level", "mode", "acquired", *measures) if c not in table]
    if missing:
        raise ValueError(f"the quality table lacks the columns {missing}; it has {list(table.columns)}")
