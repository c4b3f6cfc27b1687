"""Run folders: the on-disk format of one pipeline run, and how runs are found, started and resumed.

``results/<UTC yyyymmdd-HHMMSS>-<name>/`` holds ``config.yaml`` (the config as
used), ``pipeline.json`` (every step's parameters, status, times and error),
``versions.json`` and ``hardware.json`` (``<kind>.attempt-N.json`` when a
resumed attempt ran elsewhere), per step ``<step>.ipynb`` and ``<step>.html``,
and the step's output folder ``<step>/``, which the notebook gets as ``run_dir``.
With ``split_seeds``, each seed's notebooks, HTML and step folders are in
``seed-<k>/`` instead (the run-level files stay at the top), and ``pipeline.json``
holds one step record per (seed, step), seed after seed, each with its ``seed``.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.core.files import write_json_atomic, write_text_atomic
from helpers.core.sources import RESULTS, project_path
from helpers.pipeline.config import PLACEHOLDER, Config, Step, notebook_path, seed_folder
from helpers.pipeline.provenance import collect_in_child

BY_HAND = "notebooks"
"""``results/notebooks/<step>``: where a notebook run by hand (``run_dir = ""``) writes, and where the next notebook's defaults read."""
STATE = "pipeline.json"
CONFIG_COPY = "config.yaml"
LOCK = ".pipeline.lock"
PROVENANCE = ("versions", "hardware")
PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"


class RunFolderError(RuntimeError):
    """A run folder cannot be used for this config (different config, busy, not a run folder)."""


def new_run_name(label: str = "run") -> str:
    """A sortable, unique-enough run folder name: UTC timestamp plus a label."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{label}"


def step_dir(run_dir: str | Path, step: str) -> Path:
    """The folder a notebook step writes to (created): ``run_dir`` as given (the pipeline gives each step its own), else
    ``results/notebooks/<step>``, the folder the next notebook's defaults read, so Run All notebook after notebook chains."""
    folder = project_path(run_dir) if run_dir else project_path(RESULTS) / BY_HAND / step
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def resolve(value: Any, places: dict[str, str | list[str]]) -> Any:
    """``value`` with every placeholder replaced from ``places``, inside lists and mappings too; a whole ``{seeds.NAME}`` becomes its list."""
    if isinstance(value, str):
        if (whole := PLACEHOLDER.fullmatch(value)) and isinstance(folders := places[whole.group(1)], list):
            return list(folders)
        return PLACEHOLDER.sub(lambda match: places[match.group(1)], value)
    if isinstance(value, list):
        return [resolve(item, places) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, places) for key, item in value.items()}
    return value


def _record(step: Step, seed: int | None, folder: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """A pending step record; its notebook and HTML go to ``folder`` (the run's, or the split seed's)."""
    record = {
        "name": step.name,
        "notebook": str(notebook_path(step.notebook)),
        "parameters": parameters,
        "status": PENDING,
        "executed_notebook": str(folder / f"{step.name}.ipynb"),
        "html": str(folder / f"{step.name}.html"),
        "started": None,
        "ended": None,
        "seconds": None,
        "attempt": None,
        "error": None,
    }
    return record if seed is None else {"name": step.name, "seed": seed} | record


def plan(config: Config, run: Path) -> list[dict[str, Any]]:
    """One pending record per step (per split seed and step, seed after seed), parameters resolved for run folder ``run``.

    ``{run}`` is the folder of the step's notebooks (``run``, or ``run/seed-<k>``), ``{steps.NAME}`` NAME's
    folder under the same seed, ``{seeds.NAME}`` the list of NAME's folders under every seed so far, this one last
    (a step may list its own: notebook 05 reads the earlier seeds' comparisons beside its own).
    """
    places: dict[str, Any] = {}
    records = []
    for seed in config.split_seeds or (None,):
        folder = run if seed is None else run / seed_folder(seed)
        places["run"] = str(folder)
        for step in config.steps:
            given = {"run_dir": str(folder / step.name)} | step.parameters_for(seed)
            own = str(project_path(resolve(given["run_dir"], places)))
            places[f"seeds.{step.name}"] = [*places.get(f"seeds.{step.name}", []), own]  # before resolving: a step may list its own
            parameters = resolve(given, places)
            places[f"steps.{step.name}"] = own
            records.append(_record(step, seed, folder, parameters))
    return records


def label(record: dict[str, Any]) -> str:
    """A step record's name, with its split seed's folder where it has one: ``seed-1/02_baseline``."""
    return f"{seed_folder(record['seed'])}/{record['name']}" if "seed" in record else record["name"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(run: Path) -> dict[str, Any] | None:
    """The run's ``pipeline.json``, or None when the folder holds none."""
    state = run / STATE
    return json.loads(state.read_text(encoding="utf-8")) if state.is_file() else None


def is_complete(state: dict[str, Any]) -> bool:
    """Every step of the run completed."""
    return all(step["status"] == COMPLETED for step in state["steps"])


def runs_of(config: Config, results: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Run folders directly under ``results`` made from this config (same normalised content), newest first."""
    found = []
    for state_file in results.glob(f"*/{STATE}"):
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"[pipeline] ignoring {state_file}: unreadable ({exc})", flush=True)
            continue
        if state.get("config_hash") == config.digest:
            found.append((state_file.parent, state))
    return sorted(found, key=lambda item: (item[1]["created"], item[0].name), reverse=True)


def _new_folder(config: Config, results: Path) -> Path:
    base = results / new_run_name(config.name)
    folder, suffix = base, 1
    while folder.exists():
        suffix += 1
        folder = base.with_name(f"{base.name}-{suffix}")
    return folder


def _explicit_folder(config: Config, run: Path) -> Path:
    """``--run-dir``: a new or empty folder, or a run folder of this same config."""
    state = read_state(run)
    if state is None and run.is_dir() and any(entry.name != LOCK for entry in run.iterdir()):
        raise RunFolderError(f"{run} holds files but no {STATE}; pass an empty or new folder as --run-dir")
    if state is not None and state["config_hash"] != config.digest:
        raise RunFolderError(
            f"{run} holds a run of a different config ({state['config_file']}, as copied to {run / CONFIG_COPY}), not of {config.path}; "
            "pass another --run-dir, or leave --run-dir out to start or resume a run of this config"
        )
    return run


def choose_folder(config: Config, results: Path, run_dir: Path | None = None, new: bool = False) -> Path:
    """The run folder to use: ``run_dir`` when given, else the newest run of this config unless ``new``, else a fresh one."""
    if run_dir is not None:
        return _explicit_folder(config, run_dir.resolve())
    if not new and (previous := runs_of(config, results)):
        return previous[0][0]
    return _new_folder(config, results)


@contextmanager
def locked(run: Path) -> Iterator[None]:
    """Hold the run folder (created) for this process; a second pipeline on the same folder stops at once."""
    run.mkdir(parents=True, exist_ok=True)
    with open(run / LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunFolderError(f"{run} is being run by another pipeline process; wait for it, or pass --new for a separate run") from exc
        yield


def start(config: Config, run: Path) -> dict[str, Any]:
    """Write a new run's ``config.yaml`` and ``pipeline.json``; returns the state."""
    write_text_atomic(run / CONFIG_COPY, config.text)
    seeds = {} if config.split_seeds is None else {"split_seeds": list(config.split_seeds)}
    state = {
        "name": config.name,
        "config_file": str(config.path),
        "config_hash": config.digest,
        **seeds,
        "created": now(),
        "attempts": [],
        "steps": plan(config, run),
    }
    write_json_atomic(run / STATE, state)
    each = f", once per split seed ({', '.join(map(str, config.split_seeds))}) in seed-<k>/" if seeds else ""
    print(f"[pipeline] new run {run}: {len(config.steps)} steps ({', '.join(s.name for s in config.steps)}){each}", flush=True)
    return state


def resume(config: Config, run: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Keep completed steps, re-plan the others (clearing a failure), and say what is skipped."""
    done = [step for step in state["steps"] if step["status"] == COMPLETED]
    following = state["steps"][len(done)]
    last_time = {FAILED: " (it failed last time)", RUNNING: " (it was interrupted last time)"}.get(following["status"], "")
    state["steps"] = done + plan(config, run)[len(done) :]
    print(
        f"[pipeline] resuming {run} after its last completed step; skipping {', '.join(map(label, done)) or 'nothing'}; next: {label(following)}{last_time}",
        flush=True,
    )
    return state


def record_provenance(run: Path, state: dict[str, Any]) -> None:
    """Write ``versions.json`` / ``hardware.json`` (first attempt) or, when a resumed attempt differs, ``<kind>.attempt-N.json``."""
    number, found, files = len(state["attempts"]) + 1, collect_in_child(), {}
    for kind in PROVENANCE:
        target = run / f"{kind}.json"
        if target.is_file() and json.loads(target.read_text(encoding="utf-8")) != found[kind]:
            target = run / f"{kind}.attempt-{number}.json"
            print(f"[pipeline] note: {kind} differ from the run's first attempt; recorded in {target.name}", flush=True)
        if not target.is_file():
            write_json_atomic(target, found[kind])
        files[kind] = target.name
    state["attempts"].append({"number": number, "started": now(), **files})
