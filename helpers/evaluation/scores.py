"""``scores.parquet``: every scored pair of a model's step folder, one row per pair and one column per condition.

This module is the one definition of that format; notebooks 02 and 03 write it,
notebook 05 and independent scripts read it (``pandas.read_parquet``). Columns:
``path_a``, ``path_b`` (the gallery and probe image), ``identity_a``,
``identity_b``, ``same`` (True for a genuine pair), then one float32 cosine
similarity per condition (``HQ-HQ``, ``HQ-px16``, ``px16-px16``, ...). Every
metric in ``metrics.json`` is computed from exactly these float32 values. Where
the file is small, ``scores.csv`` carries the same scores in long form (one row
per pair and condition) for a spreadsheet. ``val_scores.parquet`` holds the val
split's pairs in the same form (HQ-HQ only), the ones the operating threshold was
set on, so any threshold can be audited from files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.core.files import atomic_path, write_csv_atomic
from helpers.evaluation.bootstrap import People

SCORES = "scores.parquet"
SCORES_CSV = "scores.csv"
VAL_SCORES = "val_scores.parquet"
PAIR_COLUMNS = ["path_a", "path_b", "identity_a", "identity_b", "same"]
CSV_MAX_ROWS = 200_000
"""``scores.csv`` is written only when pairs x conditions stays within this many rows."""


def conditions_of(scores: pd.DataFrame) -> list[str]:
    """The condition columns of a scores table, in their order."""
    return [column for column in scores.columns if column not in PAIR_COLUMNS]


def people_of(scores: pd.DataFrame) -> People:
    """The people behind a scores table's pairs (``same``, ``identity_a``, ``identity_b``)."""
    return People.of(scores["same"].to_numpy(), *(scores[column].astype(str).to_numpy() for column in ("identity_a", "identity_b")))


def long_form(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per pair and condition: the pair columns, ``condition`` and ``score``."""
    pairs = scores[PAIR_COLUMNS].astype({column: str for column in PAIR_COLUMNS[:4]})
    return pd.concat([pairs.assign(condition=name, score=scores[name].astype(float)) for name in conditions_of(scores)], ignore_index=True)


def write_scores(folder: Path, scores: pd.DataFrame) -> Path:
    """Write ``scores.parquet`` atomically (and ``scores.csv`` when small); returns the parquet path."""
    if lacking := [column for column in PAIR_COLUMNS if column not in scores.columns]:
        raise ValueError(f"scores lack the columns {lacking}")
    target = Path(folder) / SCORES
    with atomic_path(target) as tmp:
        scores.to_parquet(tmp, index=False)
    if len(scores) * len(conditions_of(scores)) <= CSV_MAX_ROWS:
        write_csv_atomic(Path(folder) / SCORES_CSV, long_form(scores))
    return target


def write_val_scores(folder: Path, scores: pd.DataFrame) -> Path:
    """Write ``val_scores.parquet`` (the val pairs the threshold was set on) atomically; returns its path."""
    target = Path(folder) / VAL_SCORES
    with atomic_path(target) as tmp:
        scores.to_parquet(tmp, index=False)
    return target


def read_scores(folder: Path) -> pd.DataFrame:
    """Read a step folder's ``scores.parquet``, checking its pair columns and that it holds conditions."""
    path = Path(folder) / SCORES
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the step folder of notebook 02 or 03 (a workbench of protocol v2 or later)")
    scores = pd.read_parquet(path)
    if lacking := [column for column in PAIR_COLUMNS if column not in scores.columns]:
        raise ValueError(f"{path} lacks the columns {lacking}")
    if not conditions_of(scores):
        raise ValueError(f"{path} holds no condition column")
    return scores


def read_val_scores(folder: Path) -> pd.DataFrame | None:
    """A step folder's ``val_scores.parquet``, or None for a folder written before the workbench saved it."""
    path = Path(folder) / VAL_SCORES
    return pd.read_parquet(path) if path.is_file() else None
