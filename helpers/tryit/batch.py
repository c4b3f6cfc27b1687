"""``lqface verify --pairs PAIRS.csv``: many pairs scored with one model load, each photo found and embedded once.

PAIRS.csv has columns ``a`` and ``b`` (photo paths, relative ones read from the CSV's folder) and optionally ``same``
(1 same person, 0 not). The output adds ``score``, ``decision``, ``threshold`` and ``error`` (a photo unreadable or
without a face fails its pairs, not the batch), and ``gate_a`` and ``gate_b``: the quality gate's verdict on each face
(passes, rejected, not judged; empty without a gate), which never changes the decision. With ``same``, the
different-person scores are checked against the threshold's calibration data
(:func:`helpers.tryit.thresholds.drift_warning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic
from helpers.core.progress import progress
from helpers.data.degrade import level_named
from helpers.tryit.faces import NoFace, UnreadablePhoto, find_face, read_photo
from helpers.tryit.models import TryModel
from helpers.tryit.quality import REJECTED, gate_measure, gate_status
from helpers.tryit.thresholds import drift_warning
from helpers.tryit.verify import degraded_view, embed

COLUMNS = ("a", "b")


@dataclass(frozen=True)
class BatchOutcome:
    """How many pairs were scored, matched and failed, the drift warning (empty when none), and how many scored pairs hold
    a face the quality gate rejects."""

    pairs: int
    matches: int
    failed: int
    warning: str
    gated: int = 0


def read_pairs(path: Path) -> pd.DataFrame:
    """The pairs CSV, checked for its columns and for ``same`` holding only 0 and 1."""
    try:
        pairs = pd.read_csv(path, dtype={"a": str, "b": str})
    except (OSError, ValueError) as error:
        raise ValueError(f"--pairs {path}: cannot be read as CSV ({error})") from None
    if lacking := [column for column in COLUMNS if column not in pairs.columns]:
        raise ValueError(f"--pairs {path}: no column {', '.join(lacking)}; the CSV needs a header a,b (and optionally same)")
    if "same" in pairs.columns and not pairs["same"].isin([0, 1]).all():
        raise ValueError(f"--pairs {path}: column same holds values other than 0 and 1")
    return pairs


@dataclass(frozen=True)
class Embedded:
    """One photo's embedding and the quality gate's verdict on its face (empty without a gate)."""

    vector: np.ndarray
    gate: str


def _vector(model: TryModel, path: Path, level: str | None, seed: int) -> Embedded:
    """One photo's embedding: its largest face, found again on the photo degraded at ``level`` when given; and the gate's
    verdict on that face, from its measure alone."""
    photo = read_photo(path)
    found = find_face(photo, model.detector, str(path))
    if level is not None:
        found = degraded_view(model, photo, found, level_named(level), str(path), seed)[1]
    verdict = "" if model.gate is None else gate_status(model.gate.gate, gate_measure(model, found))
    return Embedded(embed(model, [found.crop])[0], verdict)


def embeddings(model: TryModel, photos: list[tuple[Path, str | None]], seed: int) -> dict[tuple[Path, str | None], Embedded | str]:
    """Each distinct (photo, level) once: its embedding and gate verdict, or why it has none."""
    found: dict[tuple[Path, str | None], Embedded | str] = {}
    for key in progress(list(dict.fromkeys(photos)), "photos", total=len(set(photos))):
        try:
            found[key] = _vector(model, *key, seed)
        except (NoFace, UnreadablePhoto) as error:
            found[key] = str(error)
    return found


def verify_pairs(model: TryModel, pairs_csv: Path, out_csv: Path, level: str | None = None, seed: int = 0) -> BatchOutcome:
    """Score every pair of ``pairs_csv`` (photo b degraded at ``level`` when given) and write the scores to ``out_csv``."""
    pairs = read_pairs(pairs_csv)
    where = pairs_csv.parent
    keys_a = [(where / a, None) for a in pairs["a"]]
    keys_b = [(where / b, level) for b in pairs["b"]]
    vectors = embeddings(model, keys_a + keys_b, seed)
    scores, errors, gate_a, gate_b = [], [], [], []
    for key_a, key_b in zip(keys_a, keys_b, strict=True):
        a, b = vectors[key_a], vectors[key_b]
        scores.append(np.nan if isinstance(a, str) or isinstance(b, str) else float(a.vector @ b.vector))
        errors.append("; ".join(v for v in (a, b) if isinstance(v, str)))
        gate_a.append("" if isinstance(a, str) else a.gate)
        gate_b.append("" if isinstance(b, str) else b.gate)
    out = pairs.assign(score=np.round(scores, 6), error=errors)
    operating = model.operating
    decided = [("" if np.isnan(s) or operating is None else ("match" if operating.accepts(s) else "no match")) for s in scores]
    out = out.assign(decision=decided, threshold=np.nan if operating is None else operating.threshold, gate_a=gate_a, gate_b=gate_b)
    write_csv_atomic(out_csv, out)
    impostors = out.loc[(out.get("same", pd.Series(1, index=out.index)) == 0) & out["score"].notna(), "score"].tolist()
    warning = "" if operating is None else drift_warning(impostors, operating)
    gated = sum(REJECTED in (a, b) and not np.isnan(score) for a, b, score in zip(gate_a, gate_b, scores, strict=True))
    return BatchOutcome(len(out), decided.count("match"), int(out["score"].isna().sum()), warning, gated)
