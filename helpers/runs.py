"""Run folders: one per run under ``results/``, one sub-folder per notebook step."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from helpers.sources import project_path

RESULTS = "results"


def new_run_name(label: str = "run") -> str:
    """A sortable, unique-enough run folder name: UTC timestamp plus a label."""
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{label}"


def step_dir(run_dir: str | Path, step: str) -> Path:
    """The folder a notebook step writes to (created): ``run_dir`` as given, else a fresh run's ``step``."""
    folder = project_path(run_dir) if run_dir else project_path(RESULTS) / new_run_name() / step
    folder.mkdir(parents=True, exist_ok=True)
    return folder
