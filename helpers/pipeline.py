"""Run the numbered notebooks in order from one YAML config, resumably.

    python -m helpers.pipeline configs/demo.yaml                  # new run, or resume the last unfinished one
    python -m helpers.pipeline configs/demo.yaml --new            # always a fresh run folder
    python -m helpers.pipeline configs/demo.yaml --run-dir DIR    # use / resume exactly this folder
    python -m helpers.pipeline configs/demo.yaml --results DIR    # look for and create run folders under DIR

A config names the run and lists its steps; each step runs one notebook with
papermill, with its own parameters (see ``configs/template.yaml``). The run folder
``results/<UTC yyyymmdd-HHMMSS>-<name>/`` receives ``config.yaml`` (a copy),
``pipeline.json`` (the state of every step), ``versions.json``, ``hardware.json``,
and per step ``<step>.ipynb`` (executed), ``<step>.html`` and the step's output
folder ``<step>/``, which the notebook gets as ``run_dir``. Parameter strings may
name the run folder as ``{run}`` and an earlier step's folder as ``{steps.NAME}``.

A failing notebook stops the run; the executed notebook stays in the run folder
and the message names the notebook and the cell. Running the same config again
resumes the newest unfinished run of that config after its last completed step.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import papermill
import yaml
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from helpers.files import write_json_atomic, write_text_atomic
from helpers.provenance import collect_in_child
from helpers.runs import RESULTS, new_run_name
from helpers.sources import PROJECT_ROOT, project_path

NOTEBOOKS = PROJECT_ROOT / "notebooks"
STATE = "pipeline.json"
CONFIG_COPY = "config.yaml"
LOCK = ".pipeline.lock"
PROVENANCE = ("versions", "hardware")
CONFIG_KEYS = ("name", "steps")
STEP_KEYS = ("name", "notebook", "parameters")
PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SCALARS = (str, bool, int, float, type(None))


class ConfigError(ValueError):
    """A pipeline config is malformed; the message names the file and the fix."""


class RunFolderError(RuntimeError):
    """A run folder cannot be used for this config (different config, busy, not a run folder)."""


class StepFailed(RuntimeError):
    """A notebook raised; the message names the step, the notebook and the failing cell."""


@dataclass(frozen=True)
class Step:
    """One notebook execution as written in the config."""

    name: str
    notebook: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Config:
    """A validated pipeline config and the file it came from."""

    name: str
    steps: tuple[Step, ...]
    path: Path
    text: str

    @property
    def digest(self) -> str:
        """sha256 of the normalised content: comments, layout and key order do not change it."""
        content = {"name": self.name, "steps": [vars(step) for step in self.steps]}
        return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- config


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def _check_keys(raw: Any, allowed: tuple[str, ...], required: tuple[str, ...], where: str, path: Path) -> None:
    """``raw`` is a mapping with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(raw, dict):
        raise _fail(path, f"{where} must be a mapping with keys {', '.join(allowed)}, not {type(raw).__name__}")
    if unknown := [key for key in raw if key not in allowed]:
        raise _fail(path, f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {', '.join(allowed)}")
    if missing := [key for key in required if key not in raw]:
        raise _fail(path, f"{where}: missing key(s) {', '.join(missing)}")


def _check_name(value: Any, where: str, path: Path) -> str:
    """A name that is safe as (part of) a folder name."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise _fail(path, f"{where}: name {value!r} must start with a letter or digit and use only letters, digits, '.', '_', '-' (it names a folder)")
    return value


def _check_value(value: Any, where: str, path: Path) -> None:
    """Parameter values are strings, numbers, booleans, null, or lists / string-keyed mappings of them."""
    if isinstance(value, list):
        for item in value:
            _check_value(item, where, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(path, f"{where}: mapping key {key!r} must be a string; quote it")
            _check_value(item, f"{where}.{key}", path)
    elif not isinstance(value, _SCALARS):
        raise _fail(path, f"{where}: YAML read {value!r} as {type(value).__name__}; quote it to pass a string")


def _parse_step(raw: Any, index: int, path: Path) -> Step:
    named = isinstance(raw, dict) and isinstance(raw.get("name"), str)
    where = f"step {index} ({raw['name']})" if named else f"step {index}"
    _check_keys(raw, STEP_KEYS, ("name", "notebook"), where, path)
    name = _check_name(raw["name"], where, path)
    notebook, parameters = raw["notebook"], raw.get("parameters") or {}
    if not isinstance(notebook, str) or not notebook.endswith(".ipynb"):
        raise _fail(path, f"{where}: notebook must be an .ipynb path (relative to notebooks/, the project root, or absolute), not {notebook!r}")
    if not isinstance(parameters, dict):
        raise _fail(path, f"{where}: parameters must be a mapping of notebook parameter names to values")
    for key, value in parameters.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise _fail(path, f"{where}: parameter name {key!r} is not a Python identifier")
        _check_value(value, f"{where} parameter {key}", path)
    return Step(name, notebook, parameters)


def _check_unique(steps: list[Step], path: Path) -> None:
    seen: dict[str, int] = {}
    for index, step in enumerate(steps, 1):
        if step.name in seen:
            raise _fail(path, f"step {index}: duplicate step name {step.name!r} (also step {seen[step.name]}); names must be unique, each names the step's output folder")
        seen[step.name] = index


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside ``value``, however deeply nested in lists and mappings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)


def _check_placeholder(token: str, index: int, names: list[str], where: str, path: Path) -> None:
    """``{run}``, or ``{steps.NAME}`` with NAME an earlier step; anything else is an error."""
    if token == "run":
        return
    if not token.startswith("steps."):
        raise _fail(path, f"{where}: unknown placeholder {{{token}}}; use {{run}} for the run folder or {{steps.NAME}} for an earlier step's folder")
    target, earlier = token.removeprefix("steps."), names[: index - 1]
    if target in earlier:
        return
    if target == names[index - 1]:
        problem = "is this step itself"
    elif target in names:
        problem = f"runs later (step {names.index(target) + 1})"
    else:
        problem = "is no step of this config"
    raise _fail(path, f"{where}: placeholder {{{token}}} {problem}; a step can only use the folders of earlier steps: {', '.join(earlier) or 'none'}")


def _check_placeholders(steps: list[Step], path: Path) -> None:
    names = [step.name for step in steps]
    for index, step in enumerate(steps, 1):
        for key, value in step.parameters.items():
            for text in strings_in(value):
                for token in _PLACEHOLDER.findall(text):
                    _check_placeholder(token, index, names, f"step {index} ({step.name}) parameter {key}", path)


def notebook_path(notebook: str) -> Path:
    """A step's notebook: absolute as given, else under ``notebooks/`` when there, else project-relative."""
    candidate = Path(notebook).expanduser()
    if candidate.is_absolute():
        return candidate
    return NOTEBOOKS / candidate if (NOTEBOOKS / candidate).is_file() else project_path(candidate)


def _check_parameters(step: Step, index: int, path: Path) -> None:
    """The step's parameters exist in its notebook's ``parameters`` cell (skipped while the notebook does not exist)."""
    notebook = notebook_path(step.notebook)
    if not notebook.is_file():
        return
    where = f"step {index} ({step.name})"
    try:
        valid = papermill.inspect_notebook(notebook)
    except Exception as exc:  # papermill raises plain ValueErrors, nbformat its own errors
        raise _fail(path, f"{where}: cannot read the parameters of {notebook}: {exc}") from exc
    if "run_dir" not in valid:
        raise _fail(path, f"{where}: {notebook} has no run_dir parameter; the pipeline hands every step its output folder as run_dir")
    if unknown := [key for key in step.parameters if key not in valid]:
        raise _fail(path, f"{where}: {notebook} has no parameter(s) {', '.join(unknown)}; its parameters are: {', '.join(valid)}")


def load_config(path: str | Path) -> Config:
    """Read and validate a pipeline config; :class:`ConfigError` names the file and what to fix."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (shipped: {', '.join(p.name for p in sorted((PROJECT_ROOT / 'configs').glob('*.yaml')))})")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from exc
    _check_keys(raw, CONFIG_KEYS, CONFIG_KEYS, "the top level", path)
    name = _check_name(raw["name"], "the top level", path)
    if not isinstance(raw["steps"], list) or not raw["steps"]:
        raise _fail(path, "steps must be a non-empty list of steps (name, notebook, parameters)")
    steps = [_parse_step(item, index, path) for index, item in enumerate(raw["steps"], 1)]
    _check_unique(steps, path)
    _check_placeholders(steps, path)
    for index, step in enumerate(steps, 1):
        _check_parameters(step, index, path)
    return Config(name, tuple(steps), path, text)


def _require_notebooks(config: Config) -> None:
    for index, step in enumerate(config.steps, 1):
        if not notebook_path(step.notebook).is_file():
            raise _fail(config.path, f"step {index} ({step.name}): notebook {step.notebook} not found in {NOTEBOOKS} or {PROJECT_ROOT}")


# ---------------------------------------------------------------- plan


def resolve(value: Any, places: dict[str, str]) -> Any:
    """``value`` with every ``{run}`` / ``{steps.NAME}`` replaced from ``places``, inside lists and mappings too."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: places[match.group(1)], value)
    if isinstance(value, list):
        return [resolve(item, places) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, places) for key, item in value.items()}
    return value


def plan(config: Config, run: Path) -> list[dict[str, Any]]:
    """One pending step record per step, parameters resolved for run folder ``run``."""
    places, records = {"run": str(run)}, []
    for step in config.steps:
        parameters = {"run_dir": str(run / step.name)} | resolve(step.parameters, places)
        places[f"steps.{step.name}"] = str(project_path(parameters["run_dir"]))
        records.append({
            "name": step.name,
            "notebook": str(notebook_path(step.notebook)),
            "parameters": parameters,
            "status": PENDING,
            "executed_notebook": str(run / f"{step.name}.ipynb"),
            "html": str(run / f"{step.name}.html"),
            "started": None, "ended": None, "seconds": None, "attempt": None, "error": None,
        })
    return records


# ---------------------------------------------------------------- run folders


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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


def _start(config: Config, run: Path) -> dict[str, Any]:
    """Write a new run's ``config.yaml`` and ``pipeline.json``; returns the state."""
    write_text_atomic(run / CONFIG_COPY, config.text)
    state = {
        "name": config.name,
        "config_file": str(config.path),
        "config_hash": config.digest,
        "created": _now(),
        "attempts": [],
        "steps": plan(config, run),
    }
    write_json_atomic(run / STATE, state)
    print(f"[pipeline] new run {run}: {len(state['steps'])} steps ({', '.join(s['name'] for s in state['steps'])})", flush=True)
    return state


def _resume(config: Config, run: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Keep completed steps, re-plan the others (clearing a failure), and say what is skipped."""
    done = [step for step in state["steps"] if step["status"] == COMPLETED]
    following = state["steps"][len(done)]
    last_time = {FAILED: " (it failed last time)", RUNNING: " (it was interrupted last time)"}.get(following["status"], "")
    state["steps"] = done + plan(config, run)[len(done):]
    print(
        f"[pipeline] resuming {run} after its last completed step; skipping {', '.join(s['name'] for s in done) or 'nothing'}; "
        f"next: {following['name']}{last_time}",
        flush=True,
    )
    return state


def _record_provenance(run: Path, state: dict[str, Any]) -> None:
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
    state["attempts"].append({"number": number, "started": _now(), **files})


# ---------------------------------------------------------------- execution


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


def _failure_message(record: dict[str, Any], position: str, exc: BaseException) -> str:
    error = record["error"]
    where = ""
    if isinstance(exc, PapermillExecutionError):
        first_line = next((line for line in exc.source.splitlines() if line.strip()), "")
        where = f", cell In [{error['exec_count']}] (index {error['cell_index']} counting the injected parameters; it starts `{first_line.strip()[:80]}`)"
    executed = Path(record["executed_notebook"])
    kept = f"executed notebook kept: {executed}" if executed.is_file() else "no executed notebook was written"
    return (
        f"step {position} {record['name']} failed: notebook {record['notebook']}{where} raised {error['ename']}: {error['evalue']}\n"
        f"  {kept}\n  run folder: {executed.parent}; fix the cause and re-run the same command to resume from this step"
    )


def _run_step(run: Path, state: dict[str, Any], record: dict[str, Any], position: str) -> None:
    """Execute one step with papermill, keep its state current, and export its HTML."""
    record.update(status=RUNNING, started=_now(), ended=None, seconds=None, error=None, attempt=len(state["attempts"]))
    write_json_atomic(run / STATE, state)
    print(f"[pipeline] step {position} {record['name']}: started {record['started']} ({record['notebook']})", flush=True)
    start = time.monotonic()
    try:
        with notebook_output_on_stdout():
            papermill.execute_notebook(
                record["notebook"], record["executed_notebook"], parameters=record["parameters"],
                cwd=str(NOTEBOOKS), log_output=True, progress_bar=False,
            )
    except BaseException as exc:
        record.update(status=FAILED, ended=_now(), seconds=round(time.monotonic() - start, 1), error=_error_of(exc))
        write_json_atomic(run / STATE, state)
        if Path(record["executed_notebook"]).is_file():
            export_html(Path(record["executed_notebook"]), Path(record["html"]))
        if isinstance(exc, Exception):
            raise StepFailed(_failure_message(record, position, exc)) from exc
        raise
    export_html(Path(record["executed_notebook"]), Path(record["html"]))
    record.update(status=COMPLETED, ended=_now(), seconds=round(time.monotonic() - start, 1))
    write_json_atomic(run / STATE, state)
    print(f"[pipeline] step {position} {record['name']}: completed {record['ended']} in {_duration(record['seconds'])}", flush=True)


def _run_steps(run: Path, state: dict[str, Any]) -> None:
    _record_provenance(run, state)
    write_json_atomic(run / STATE, state)
    total = len(state["steps"])
    for index, record in enumerate(state["steps"], 1):
        if record["status"] != COMPLETED:
            _run_step(run, state, record, f"{index}/{total}")


def run_pipeline(config_path: str | Path, results: Path | None = None, run_dir: Path | None = None, new: bool = False) -> Path:
    """Run (or resume) a config's steps; returns the run folder. Raises :class:`StepFailed` when a notebook fails."""
    config = load_config(config_path)
    _require_notebooks(config)
    run = choose_folder(config, (results or project_path(RESULTS)).resolve(), run_dir, new)
    with locked(run):
        state = read_state(run)
        if state is not None and is_complete(state):
            print(f"[pipeline] {config.path.name}: every step already completed in {run}; pass --new for a fresh run", flush=True)
            return run
        state = _start(config, run) if state is None else _resume(config, run, state)
        start = time.monotonic()
        _run_steps(run, state)
    print(f"[pipeline] all {len(state['steps'])} steps completed (this invocation: {_duration(time.monotonic() - start)}); run folder: {run}", flush=True)
    return run


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: CONFIG [--results DIR] [--run-dir DIR | --new]."""
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline", description="Run the numbered notebooks in order from a YAML config, resuming unfinished runs.")
    parser.add_argument("config", type=Path, help="pipeline config, e.g. configs/demo.yaml")
    parser.add_argument("--results", type=Path, help=f"folder holding the run folders (default: {project_path(RESULTS)})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--run-dir", type=Path, help="use or resume exactly this run folder")
    where.add_argument("--new", action="store_true", help="start a fresh run folder even when an earlier run of this config exists")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 done, 1 a step failed, 2 unusable config or folder, 130 interrupted)."""
    args = parse_args(argv)
    try:
        run_pipeline(args.config, args.results, args.run_dir, args.new)
    except (ConfigError, RunFolderError) as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return 2
    except StepFailed as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("[pipeline] interrupted; re-run the same command to resume", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
