"""``scores.csv``: one row per scored pair and condition, the format every model's step folder carries.

This module is the one definition of that format (file name, columns, types);
notebooks 02 and 03 write it, notebook 04 and independent scripts read it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.core.files import write_csv_atomic

SCORES = "scores.csv"
SCORE_COLUMNS = ["path_a", "path_b", "identity_a", "identity_b", "same", "condition", "model", "score"]
TEXT_COLUMNS = ["path_a", "path_b", "identity_a", "identity_b", "condition", "model"]
PAIR_KEY = ["condition", "path_a", "path_b"]
"""What identifies one scored pair across models."""


def write_scores(folder: Path, scores: pd.DataFrame) -> Path:
    """Write ``scores.csv`` (exactly :data:`SCORE_COLUMNS`) atomically; returns its path."""
    target = Path(folder) / SCORES
    write_csv_atomic(target, scores[SCORE_COLUMNS])
    return target


def read_scores(folder: Path) -> pd.DataFrame:
    """Read a step folder's ``scores.csv``, checking its columns and that it holds exactly one model."""
    path = Path(folder) / SCORES
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the step folder of notebook 02 or 03")
    scores = pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False)
    if lacking := [column for column in SCORE_COLUMNS if column not in scores.columns]:
        raise ValueError(f"{path} lacks the columns {lacking}")
    names = scores["model"].unique()
    if len(names) != 1:
        raise ValueError(f"{path} holds {len(names)} model names {list(names)[:5]}; a step folder holds exactly one model")
    return scores
