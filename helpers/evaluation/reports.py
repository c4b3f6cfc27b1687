"""``metrics.json`` of one model's step folder (notebooks 02 and 03): typed, written and read only here.

A :class:`ModelReport` holds what the model is, the :class:`Protocol` it was
scored under (pairs, levels, the operating threshold fixed on val), and per
condition the entry of :func:`helpers.evaluation.verification.condition_report`.
Notebook 05 refuses to compare reports whose protocols differ, and notebook 03
takes its pair settings from the baseline's protocol.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.core.files import write_json_atomic
from helpers.evaluation.conditions import MODES, ORACLE
from helpers.evaluation.people import WEIGHTINGS

METRICS = "metrics.json"
HISTORY = "history.csv"
"""A fine-tuned step's per-epoch losses and val statistics (notebook 03), beside its ``metrics.json``."""
THRESHOLDS_FROM = "val"
PROTOCOL_VERSION = 5


@dataclass(frozen=True)
class PairSettings:
    """What decides which pairs are scored (on val and test alike) and where the operating threshold sits."""

    genuine_per_identity: int = 10
    max_impostors: int = 2_000_000
    seed: int = 0
    operating_fmr: float = 1e-3
    threshold_weighting: str = "person"
    """How val impostor pairs weigh at the operating FMR: ``person`` (each pair of people once) or ``pair``."""

    def __post_init__(self) -> None:
        if self.threshold_weighting not in WEIGHTINGS:
            raise ValueError(f"threshold_weighting must be one of {WEIGHTINGS}, got {self.threshold_weighting!r}")
        if self.genuine_per_identity < 1 or self.max_impostors < 1:
            raise ValueError(f"genuine_per_identity and max_impostors must be >= 1, got {self.genuine_per_identity} and {self.max_impostors}")
        if not 0 < self.operating_fmr < 1:
            raise ValueError(f"operating_fmr must lie in (0, 1), got {self.operating_fmr}")


@dataclass(frozen=True)
class Protocol:
    """How pairs were formed and scored: split, protocol label, pair settings and seeds, level definitions, the operating threshold,
    and how end-to-end faces were acquired."""

    split: str
    label: str
    pairs: PairSettings
    level_seed: int
    levels: dict[str, dict] = field(default_factory=dict)
    operating: dict[str, Any] = field(default_factory=dict)
    acquisition: dict[str, Any] | None = None  # notebook 01's end-to-end settings (acquisition.json); None: oracle alignment only
    endpoint: dict[str, Any] | None = None  # the primary endpoint locked before scoring (Endpoint.lock); None: not declared
    version: int = PROTOCOL_VERSION
    thresholds_from: str = THRESHOLDS_FROM

    @property
    def modes(self) -> tuple[str, ...]:
        """The alignment modes scored: oracle, and end-to-end when notebook 01 acquired faces on degraded photos."""
        return (ORACLE,) if self.acquisition is None else MODES

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Protocol:
        if data.get("version") != PROTOCOL_VERSION:
            raise ValueError(f"written under evaluation protocol v{data.get('version', 1)}, not v{PROTOCOL_VERSION}: re-run notebook 02 (and 03)")
        return cls(
            split=data["split"],
            label=data["label"],
            pairs=PairSettings(**data["pairs"]),
            level_seed=int(data["level_seed"]),
            levels=dict(data["levels"]),
            operating=dict(data["operating"]),
            acquisition=data.get("acquisition"),
            endpoint=data.get("endpoint"),
            thresholds_from=data.get("thresholds_from", THRESHOLDS_FROM),
        )


@dataclass(frozen=True)
class ModelReport:
    """One model's test results: identity, protocol, per-condition metrics, and what its notebook adds."""

    model: dict[str, Any]
    protocol: Protocol
    conditions: dict[str, dict]
    pairs: dict[str, dict] = field(default_factory=dict)  # per split: people, images, genuine and impostor pairs, largest person share
    lfw_view2: dict | None = None
    training: dict | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "protocol": self.protocol.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelReport:
        if lacking := [key for key in ("model", "protocol", "conditions") if key not in data]:
            raise ValueError(f"lacks {lacking}: it was not written by notebook 02 or 03")
        return cls(data["model"], Protocol.from_json(data["protocol"]), data["conditions"], data.get("pairs", {}), data.get("lfw_view2"), data.get("training"))


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
