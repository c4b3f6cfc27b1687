"""``metrics.json`` of one model's step folder (notebooks 02 and 03): typed, written and read only here.

A :class:`ModelReport` holds what the model is, the :class:`Protocol` it was
scored under, and per condition the entry of
:func:`helpers.evaluation.metrics.verification_report`. Notebook 04 refuses to
compare reports whose protocols differ, and notebook 03 takes its pairs from
the baseline's protocol through :meth:`Protocol.pair_settings`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.files import write_json_atomic

METRICS = "metrics.json"
THRESHOLDS_FROM = "val"


@dataclass(frozen=True)
class PairSettings:
    """What decides which pairs are scored: impostor pairs on the test and val splits, and the pair seed."""

    n_impostor: int
    n_impostor_val: int
    seed: int

    def __post_init__(self) -> None:
        if min(self.n_impostor, self.n_impostor_val) < 0:
            raise ValueError(f"impostor pair counts must be >= 0, got n_impostor={self.n_impostor}, n_impostor_val={self.n_impostor_val}")

    def by_split(self) -> dict[str, int]:
        """Impostor pairs per split, as :func:`helpers.evaluation.verification.evaluate` takes them."""
        return {"val": self.n_impostor_val, "test": self.n_impostor}


@dataclass(frozen=True)
class Protocol:
    """How pairs were formed and scored: split, protocol label, pair counts and seeds, level definitions."""

    split: str
    label: str
    n_impostor: int
    n_impostor_val: int | None
    seed: int
    level_seed: int
    levels: dict[str, dict] = field(default_factory=dict)
    thresholds_from: str = THRESHOLDS_FROM

    def pair_settings(self) -> PairSettings:
        """The pairs this protocol scored; raises for reports written before the val count was recorded."""
        if self.n_impostor_val is None:
            raise ValueError("this metrics.json does not record n_impostor_val (written by an older workbench): re-run notebook 02")
        return PairSettings(self.n_impostor, self.n_impostor_val, self.seed)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Protocol:
        return cls(
            split=data["split"],
            label=data["label"],
            n_impostor=int(data["n_impostor"]),
            n_impostor_val=data.get("n_impostor_val"),
            seed=int(data["seed"]),
            level_seed=int(data.get("level_seed", 0)),
            levels=dict(data["levels"]),
            thresholds_from=data.get("thresholds_from", THRESHOLDS_FROM),
        )


@dataclass(frozen=True)
class ModelReport:
    """One model's test results: identity, protocol, per-condition metrics, and what its notebook adds."""

    model: dict[str, Any]
    protocol: Protocol
    conditions: dict[str, dict]
    lfw_view2: dict | None = None
    training: dict | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "protocol": self.protocol.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelReport:
        if lacking := [key for key in ("model", "protocol", "conditions") if key not in data]:
            raise ValueError(f"lacks {lacking}: it was not written by notebook 02 or 03")
        return cls(data["model"], Protocol.from_json(data["protocol"]), data["conditions"], data.get("lfw_view2"), data.get("training"))


def write_report(folder: Path, report: ModelReport) -> Path:
    """Write ``metrics.json`` atomically (strict JSON: NaN becomes null); returns its path."""
    target = Path(folder) / METRICS
    write_json_atomic(target, report.to_json())
    return target


def read_report(folder: Path) -> ModelReport:
    """Read a step folder's ``metrics.json``; the error names the file when it is missing or not a model report."""
    path = Path(folder) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: pass the step folder of notebook 02 or 03")
    try:
        return ModelReport.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a model's metrics.json: {exc}") from exc
