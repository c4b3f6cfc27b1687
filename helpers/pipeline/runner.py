"""Run the numbered notebooks in order from one YAML config, resumably (``python -m helpers.pipeline``).

Each step runs one notebook with papermill, with its own parameters; the run
folder's format is :mod:`helpers.pipeline.folders`, the config's
:mod:`helpers.pipeline.config`. A failing notebook stops the run; the executed
notebook stays in the run folder and the message names the notebook and the
cell. Running the same config again resumes the newest unfinished run of that
config after its last completed step. A config with ``split_seeds`` runs the
whole step list once per seed, seed after seed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import papermill
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from helpers.core.files import write_json_atomic, write_text_atomic
from helpers.core.sources import project_path
from helpers.pipeline.config import NOTEBOOKS, load_config, require_notebooks
from helpers.pipeline.folders import (
    COMPLETED,
    FAILED,
    RESULTS,
    RUNNING,
    STATE,
    choose_folder,
    is_complete,
    locked,
    now,
    read_state,
    record_provenance,
    resume,
    start,
)


class StepFailed(RuntimeError):
    """A notebook raised; the message names the step, the notebook and the failing cell."""


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


class _Plain(logging.Formatter):
    """The bare message without its trailing newline (cell output already ends in one)."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage().rstrip("\n")


@contextmanager
def notebook_output_on_stdout() -> Iterator[None]:
    """Show papermill's log (the notebook's own output, cell by cell) on stdout while a step runs."""
    logger, handler = logging.getLogger("papermill"), logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Plain())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def export_html(notebook: Path, target: Path) -> None:
    """An HTML rendering of an executed notebook, written atomically."""
    body, _ = HTMLExporter().from_filename(str(notebook))
    write_text_atomic(target, body)


def _error_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, PapermillExecutionError):
        return {"cell_index": exc.cell_index, "exec_count": exc.exec_count, "ename": exc.ename, "evalue": exc.evalue}
    return {"cell_index": None, "exec_count": None, "ename": type(exc).__name__, "evalue": str(exc)}


def _failure_message(run: Path, record: dict[str, Any], position: str, exc: BaseException) -> str:
    error = record["error"]
    where = ""
    if isinstance(exc, PapermillExecutionError):
        first_line = next((line for line in exc.source.splitlines() if line.strip()), "")
        where = f", cell In [{error['exec_count']}] (index {error['cell_index']} counting the injected parameters; it starts `{first_line.strip()[:80]}`)"
    executed = Path(record["executed_notebook"])
    kept = f"executed notebook kept: {executed}" if executed.is_file() else "no executed notebook was written"
    return (
        f"{position} {record['name']} failed: notebook {record['notebook']}{where} raised {error['ename']}: {error['evalue']}\n"
        f"  {kept}\n  run folder: {run}; fix the cause and re-run the same command to resume from this step"
    )


def _run_step(run: Path, state: dict[str, Any], record: dict[str, Any], position: str) -> None:
    """Execute one step with papermill, keep its state current, and export its HTML."""
    record.update(status=RUNNING, started=now(), ended=None, seconds=None, error=None, attempt=len(state["attempts"]))
    write_json_atomic(run / STATE, state)
    print(f"[pipeline] {position} {record['name']}: started {record['started']} ({record['notebook']})", flush=True)
    Path(record["executed_notebook"]).parent.mkdir(parents=True, exist_ok=True)  # a split seed's folder
    began = time.monotonic()
    try:
        with notebook_output_on_stdout():
            papermill.execute_notebook(
                record["notebook"],
                record["executed_notebook"],
                parameters=record["parameters"],
                cwd=str(NOTEBOOKS),
                log_output=True,
                progress_bar=False,
            )
    except BaseException as exc:
        record.update(status=FAILED, ended=now(), seconds=round(time.monotonic() - began, 1), error=_error_of(exc))
        write_json_atomic(run / STATE, state)
        if Path(record["executed_notebook"]).is_file():
            export_html(Path(record["executed_notebook"]), Path(record["html"]))
        if isinstance(exc, Exception):
            raise StepFailed(_failure_message(run, record, position, exc)) from exc
        raise
    export_html(Path(record["executed_notebook"]), Path(record["html"]))
    record.update(status=COMPLETED, ended=now(), seconds=round(time.monotonic() - began, 1))
    write_json_atomic(run / STATE, state)
    print(f"[pipeline] {position} {record['name']}: completed {record['ended']} in {_duration(record['seconds'])}", flush=True)


def _position(state: dict[str, Any], index: int) -> str:
    """Where record ``index`` (from 0) stands: ``step 2/4``, or with split seeds ``seed 0 (1/3), step 2/4``."""
    seeds, total = state.get("split_seeds"), len(state["steps"])
    if seeds is None:
        return f"step {index + 1}/{total}"
    per_seed = total // len(seeds)
    turn, step = divmod(index, per_seed)
    return f"seed {seeds[turn]} ({turn + 1}/{len(seeds)}), step {step + 1}/{per_seed}"


def _run_steps(run: Path, state: dict[str, Any]) -> None:
    record_provenance(run, state)
    write_json_atomic(run / STATE, state)
    for index, record in enumerate(state["steps"]):
        if record["status"] != COMPLETED:
            _run_step(run, state, record, _position(state, index))


def run_pipeline(config_path: str | Path, results: Path | None = None, run_dir: Path | None = None, new: bool = False) -> Path:
    """Run (or resume) a config's steps; returns the run folder. Raises :class:`StepFailed` when a notebook fails."""
    config = load_config(config_path)
    require_notebooks(config)
    run = choose_folder(config, (results or project_path(RESULTS)).resolve(), run_dir, new)
    with locked(run):
        state = read_state(run)
        if state is not None and is_complete(state):
            print(f"[pipeline] {config.path.name}: every step already completed in {run}; pass --new for a fresh run", flush=True)
            return run
        state = start(config, run) if state is None else resume(config, run, state)
        began = time.monotonic()
        _run_steps(run, state)
    seeds = f" ({len(state['split_seeds'])} split seeds)" if "split_seeds" in state else ""
    print(
        f"[pipeline] all {len(state['steps'])} steps{seeds} completed (this invocation: {_duration(time.monotonic() - began)}); run folder: {run}", flush=True
    )
    return run
