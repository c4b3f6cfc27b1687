"""The pipeline runner: config validation, run folders, and a real two-notebook run that fails, then resumes."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from helpers.cli import main
from helpers.data.degrade import NAMED_LEVELS, parse_levels
from helpers.pipeline import folders, runner
from helpers.pipeline.config import ConfigError, load_config
from helpers.pipeline.folders import RunFolderError, choose_folder, locked, plan

ROOT = Path(__file__).resolve().parents[2]
STEP_NOTEBOOK = ROOT / "tests" / "fixtures" / "pipeline" / "step.ipynb"
PREPARE_NOTEBOOK = ROOT / "tests" / "fixtures" / "pipeline" / "01_prepare_dataset.ipynb"


def write_config(folder: Path, text: str, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(text.replace("PREPARE", str(PREPARE_NOTEBOOK)).replace("STEP", str(STEP_NOTEBOOK)))
    return path


def two_steps(tmp_path: Path) -> Path:
    """Step ``first`` counts its executions; step ``second`` counts too, and fails while ``marker`` is missing."""
    return write_config(
        tmp_path,
        f"""
name: tiny
steps:
  - name: first
    notebook: STEP
    parameters: {{counter: {tmp_path / "first.count"}}}
  - name: second
    notebook: STEP
    parameters:
      counter: {tmp_path / "second.count"}
      require: {tmp_path / "marker"}
      upstream: "{{steps.first}}"
""",
    )


def executions(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.e2e
def test_fails_at_step_two_then_resumes_without_rerunning_step_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    config, results = two_steps(tmp_path), tmp_path / "results"

    assert main(["run", str(config), "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert "step 2/2 second failed" in err and str(STEP_NOTEBOOK) in err
    assert "cell In [4] (index 4 counting the injected parameters; it starts `if require and not Path(require).is_file():`)" in err
    assert f"raised FileNotFoundError: required file {tmp_path / 'marker'} is missing" in err
    [run] = results.iterdir()
    first, second = json.loads((run / "pipeline.json").read_text())["steps"]
    assert (first["status"], second["status"]) == ("completed", "failed")
    assert second["error"] == {"cell_index": 4, "exec_count": 4, "ename": "FileNotFoundError", "evalue": f"required file {tmp_path / 'marker'} is missing"}
    code = [cell for cell in nbformat.read(run / "second.ipynb", as_version=4).cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == [1, 2, 3, 4, None] and code[3].outputs[-1].ename == "FileNotFoundError"
    assert (run / "second.html").stat().st_size > 0 and (run / "first.html").stat().st_size > 0
    assert (run / "config.yaml").read_text() == config.read_text()
    hardware, versions = json.loads((run / "hardware.json").read_text()), json.loads((run / "versions.json").read_text())
    assert hardware["cpu"]["logical_cores"] >= 1 and "CPUExecutionProvider" in hardware["onnxruntime"]["providers"]
    assert "available" in hardware["cuda"] and versions["packages"]["papermill"] == "2.7.0"
    assert (executions(tmp_path / "first.count"), executions(tmp_path / "second.count")) == (1, 1)

    (tmp_path / "marker").touch()
    moved = {"versions": versions, "hardware": hardware | {"hostname": "another-machine"}}
    monkeypatch.setattr(folders, "collect_in_child", lambda: moved)
    assert main(["run", str(config), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run}" in out and "skipping first; next: second (it failed last time)" in out
    assert (executions(tmp_path / "first.count"), executions(tmp_path / "second.count")) == (1, 2)
    state = json.loads((run / "pipeline.json").read_text())
    first, second = state["steps"]
    assert [(s["status"], s["attempt"], s["error"]) for s in (first, second)] == [("completed", 1, None), ("completed", 2, None)]
    assert second["parameters"]["upstream"] == str(run / "first") and second["parameters"]["run_dir"] == str(run / "second")
    assert (run / "second" / "message.txt").read_text() == "hello world"
    assert [(a["versions"], a["hardware"]) for a in state["attempts"]] == [("versions.json", "hardware.json"), ("versions.json", "hardware.attempt-2.json")]

    assert main(["run", str(config), "--results", str(results)]) == 0
    assert "every step already completed" in capsys.readouterr().out
    assert executions(tmp_path / "second.count") == 2 and list(results.iterdir()) == [run]


def test_missing_notebook_stops_before_any_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = write_config(tmp_path, "name: tiny\nsteps:\n  - {name: first, notebook: STEP}\n  - {name: later, notebook: 99_not_written_yet.ipynb}\n")
    assert main(["run", str(config), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "step 2 (later): notebook 99_not_written_yet.ipynb not found" in err
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- config validation

INVALID = {
    "unknown top-level key": ("name: t\nstep: []\n", "the top level: unknown key(s) step; allowed: name, extends, defaults, steps"),
    "unknown step key": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP, params: {}}\n",
        "step 1 (a): unknown key(s) params; allowed: name, notebook, parameters",
    ),
    "duplicate step": ("name: t\nsteps:\n  - {name: a, notebook: STEP}\n  - {name: a, notebook: STEP}\n", "step 2: duplicate step name 'a' (also step 1)"),
    "unknown step placeholder": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP}\n  - {name: b, notebook: STEP, parameters: {upstream: '{steps.nope}'}}\n",
        "step 2 (b) parameter upstream: placeholder {steps.nope} is no step of this config; a step can only use the folders of earlier steps: a",
    ),
    "later step placeholder": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {upstream: 'x/{steps.b}'}}\n  - {name: b, notebook: STEP}\n",
        "step 1 (a) parameter upstream: placeholder {steps.b} runs later (step 2)",
    ),
    "placeholder in a nested list": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {message: [ok, {deep: '{steps.a}'}]}}\n",
        "placeholder {steps.a} is this step itself",
    ),
    "unknown placeholder": ("name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {message: '{runn}/x'}}\n", "unknown placeholder {runn}; use {run}"),
    "unsafe step name": ("name: t\nsteps:\n  - {name: ../a, notebook: STEP}\n", "name '../a' must start with a letter or digit"),
    "unknown notebook parameter": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {mesage: hi}}\n",
        f"step 1 (a): {STEP_NOTEBOOK} has no parameter(s) mesage; did you mean 'message'?; its parameters are: run_dir, counter, require, upstream, message",
    ),
    "date read by YAML": (
        "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {message: 2026-11-23}}\n",
        "step 1 (a) parameter message: YAML read datetime.date(2026, 11, 23) as date; quote it",
    ),
    "no steps": ("name: t\nsteps: []\n", "steps must be a non-empty list"),
}


@pytest.mark.parametrize("text, expected", INVALID.values(), ids=INVALID.keys())
def test_invalid_configs_name_the_file_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    config = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: ") and expected in str(caught.value)


def test_a_notebook_without_run_dir_is_rejected(tmp_path: Path) -> None:
    cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, tmp_path / "no_run_dir.ipynb")
    config = write_config(tmp_path, f"name: t\nsteps:\n  - {{name: a, notebook: {tmp_path / 'no_run_dir.ipynb'}}}\n")
    with pytest.raises(ConfigError, match="has no run_dir parameter"):
        load_config(config)


def test_hash_ignores_layout_and_comments_but_not_values(tmp_path: Path) -> None:
    block = load_config(
        write_config(tmp_path, "name: t\nsteps:\n  - name: a\n    notebook: STEP\n    parameters:\n      message: hi\n      counter: c\n", "a.yaml")
    )
    flow = load_config(
        write_config(tmp_path, "# same, other layout\nsteps: [{parameters: {counter: c, message: hi}, notebook: STEP, name: a}]\nname: t\n", "b.yaml")
    )
    other = load_config(write_config(tmp_path, "name: t\nsteps: [{name: a, notebook: STEP, parameters: {message: ho, counter: c}}]\n", "c.yaml"))
    assert block.digest == flow.digest != other.digest


def test_plan_resolves_placeholders_and_run_dirs(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            """
name: t
steps:
  - {name: a, notebook: STEP, parameters: {run_dir: "{run}/custom"}}
  - {name: b, notebook: STEP, parameters: {upstream: "{steps.a}", message: ["{run}", {x: "{steps.a}/m.txt"}]}}
""",
        )
    )
    a, b = plan(config, tmp_path / "run")
    assert a["parameters"] == {"run_dir": f"{tmp_path}/run/custom"}
    assert b["parameters"] == {
        "run_dir": f"{tmp_path}/run/b",
        "upstream": f"{tmp_path}/run/custom",
        "message": [f"{tmp_path}/run", {"x": f"{tmp_path}/run/custom/m.txt"}],
    }
    assert (b["status"], b["executed_notebook"], b["html"], b["notebook"]) == (
        "pending",
        f"{tmp_path}/run/b.ipynb",
        f"{tmp_path}/run/b.html",
        str(STEP_NOTEBOOK),
    )


SHIPPED = ["demo", "study", "demo_backbones", "recipes", "recipes_lofo", "recipes_followup", "full", "full_pack", "full_identify", "template"]


def shipped_config(name: str, folder: Path) -> Path:
    """A shipped config; the template's placeholder dataset path replaced by an existing folder (a dataset must exist)."""
    text = (ROOT / "configs" / f"{name}.yaml").read_text()
    if name == "template":
        assert "dataset: /path/to/folder" in text
        text = text.replace("dataset: /path/to/folder", f"dataset: {folder}")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def steps_of(name: str, folder: Path) -> dict[str, dict[str, Any]]:
    return {step.name: step.parameters for step in load_config(shipped_config(name, folder)).steps}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_are_valid(name: str, tmp_path: Path) -> None:
    """Every shipped config passes the schema of every notebook it runs, in the order the notebooks are numbered."""
    config = load_config(shipped_config(name, tmp_path))
    assert config.split_seeds == ((0, 1, 2) if name == "full" else None)
    numbers = [step.notebook[:2] for step in config.steps]
    assert numbers == sorted(numbers) and numbers[0] == "01" and config.steps[-1].notebook == "05_compare.ipynb"
    assert config.steps[-1].parameters["models"][0] == "{steps.02_baseline}"


def test_every_shipped_config_is_listed() -> None:
    assert sorted(path.stem for path in (ROOT / "configs").glob("*.yaml")) == sorted(SHIPPED)


def test_the_fine_tuning_recipe_is_written_once_and_inherited(tmp_path: Path) -> None:
    recipe = ("backbone", "loss", "distill_weight", "lq_prob", "lr", "head_lr", "train_options")
    demo = steps_of("demo", tmp_path)["03_finetune_pack"]
    for name in ("study", "full_pack", "full", "full_identify", "template"):
        assert {key: steps_of(name, tmp_path)["03_finetune_pack"][key] for key in recipe} == {key: demo[key] for key in recipe}, name
    written = [path.name for path in (ROOT / "configs").glob("*.yaml") if "distill_weight: 20" in path.read_text()]
    assert written == ["demo.yaml"]


def test_the_study_is_the_hour_long_demo_of_before(tmp_path: Path) -> None:
    study = steps_of("study", tmp_path)
    assert study["01_prepare_dataset"] | {"levels": None, "sweeps": None} == {
        "dataset": "lfw",
        "detector": "offline",
        "max_identities": 400,
        "max_images": 8,
        "split_fractions": {"train": 0.25, "val": 0.25, "test": 0.5},  # the demo's
        "levels": None,
        "sweeps": None,
        "processed_dir": "processed_dataset/lfw-study",
        "primary_condition": "e2e:HQ-real24",  # the demo's: val is acquired end to end at real24 alone
    }
    assert len(study["01_prepare_dataset"]["sweeps"]) == 7 and study["03_finetune_pack"]["epochs"] == 3  # the demo's
    assert study["02_baseline_dlib"]["recogniser"] == "dlib" and study["05_compare"]["models"][1] == "{steps.02_baseline_dlib}"
    assert study["05_compare"]["primary_statistic"] == "tar@1e-2" and study["04_identify_finetuned"]["target_fpir"] == 0.05


def test_full_config_runs_both_arms_and_compares_all_three(tmp_path: Path) -> None:
    steps = steps_of("full", tmp_path)
    assert steps["01_prepare_dataset"]["max_identities"] is None and steps["02_baseline"]["lfw_view2"] is True
    assert steps["03_finetune_resnet50"]["fallback"] == "mobilenet_v2" and steps["03_finetune_resnet50"]["distill_weight"] == 0
    assert steps["03_finetune_pack"]["distill_weight"] > 0 and steps["02_baseline_dlib"]["recogniser"] == "dlib"
    assert steps["05_compare"]["models"] == ["{steps.02_baseline}", "{steps.02_baseline_dlib}", "{steps.03_finetune_pack}", "{steps.03_finetune_resnet50}"]
    assert {step["target_fpir"] for name, step in steps.items() if name.startswith("04_")} == {0.01}


def test_the_templates_split_seeds_work_once_notebook_01s_own_seed_goes(tmp_path: Path) -> None:
    path = shipped_config("template", tmp_path)
    path.write_text(path.read_text().replace("# split_seeds: [0, 1, 2]", "split_seeds: [0, 1, 2]"))
    with pytest.raises(ConfigError, match=re.escape("step 1 (01_prepare_dataset): seed: 0 clashes with split_seeds")):
        load_config(path)
    path.write_text(re.sub(r"\n +seed: 0 .*", "", path.read_text()))
    assert load_config(path).steps[0].per_seed == ("seed", "processed_dir")


BY_HAND_ONLY = {
    "pack": "the demo pins the offline pack; a notebook's default, auto, takes buffalo_l where it downloads (the offline pack elsewhere)",
    "detector": "the same, for notebook 01's detector",
    "model_name": "the demo names its fine-tune after the pinned SFace; by hand the name follows the backbone and loss",
}


def by_hand(value: Any) -> Any:
    """A demo parameter as the notebooks' defaults spell it: ``{steps.NAME}`` is the folder the step's notebook writes by hand."""
    notebooks = {step.name: step.notebook for step in load_config(ROOT / "configs" / "demo.yaml").steps}
    if isinstance(value, list):
        return list(dict.fromkeys(by_hand(item) for item in value))  # by hand, notebook 04 runs once
    match = re.fullmatch(r"\{steps\.(.+)\}", value) if isinstance(value, str) else None
    return f"{folders.RESULTS}/{folders.BY_HAND}/{Path(notebooks[match.group(1)]).stem}" if match else value


def test_run_all_by_hand_gives_the_demo() -> None:
    """Each notebook's own defaults are the demo's settings (the first demo step of each notebook), reading the folder
    the notebook before wrote by hand: pressing Run All in notebooks 01 to 05 in turn runs the demo, but for :data:`BY_HAND_ONLY`."""
    seen = set()
    for step in load_config(ROOT / "configs" / "demo.yaml").steps:
        if step.notebook in seen:
            continue
        seen.add(step.notebook)
        defaults = {name: ast.literal_eval(entry["default"]) for name, entry in papermill.inspect_notebook(ROOT / "notebooks" / step.notebook).items()}
        for key, value in step.parameters.items():
            if key not in BY_HAND_ONLY:
                assert defaults[key] == by_hand(value), f"{step.notebook}: {key} defaults to {defaults[key]!r}, the demo runs {by_hand(value)!r}"
        if "processed_dir" in defaults and step.notebook != "01_prepare_dataset.ipynb":
            assert defaults["processed_dir"] == "processed_dataset/lfw"  # notebook 01's default for the demo's dataset, lfw
    assert len(seen) == 5


def test_the_demos_levels_are_the_named_levels_of_the_app() -> None:
    """The demo's seven levels are named levels (the try-it app and ``lqface verify --degrade`` offer them by name)."""
    levels = parse_levels(load_config(ROOT / "configs" / "demo.yaml").steps[0].parameters["levels"])
    assert len(levels) == 7 and all(NAMED_LEVELS[level.name] == level for level in levels)


# ---------------------------------------------------------------- extends


def base_and_child(tmp_path: Path, child: str) -> Path:
    write_config(
        tmp_path,
        "name: base\ndefaults: {message: base}\nsteps:\n  - {name: a, notebook: STEP, parameters: {counter: a.count, message: a}}\n"
        "  - {name: b, notebook: STEP, parameters: {upstream: '{steps.a}'}}\n",
        "base.yaml",
    )
    return write_config(tmp_path, "extends: base.yaml\n" + child, "child.yaml")


def test_a_config_extends_another_with_shallow_overrides(tmp_path: Path) -> None:
    child = base_and_child(tmp_path, "name: child\ndefaults: {require: x}\nsteps:\n  - {name: a, parameters: {message: mine}}\n  - {name: c, notebook: STEP}\n")
    config = load_config(child)
    assert config.name == "child" and [step.name for step in config.steps] == ["a", "c"]  # the child's list, in its order
    assert config.steps[0].parameters == {"message": "mine", "require": "x", "counter": "a.count"}  # own > base step > defaults
    assert config.steps[1].parameters == {"message": "base", "require": "x"}
    assert config.text.startswith("# resolved from base.yaml <- child.yaml") and "counter: a.count" in config.text
    assert load_config(base_and_child(tmp_path, "name: same\n")).steps[1].parameters == {"upstream": "{steps.a}", "message": "base"}


EXTENDS_INVALID = {
    "missing base": ("extends: nowhere.yaml\nname: c\n", "nowhere.yaml: no such config file"),
    "not yaml": ("extends: base\nname: c\n", "extends must name a YAML config, e.g. extends: demo.yaml"),
    "new step without a notebook": ("extends: base.yaml\nname: c\nsteps:\n  - {name: z}\n", "step 1 (z): missing key(s) notebook"),
    "another notebook": ("extends: base.yaml\nname: c\nsteps:\n  - {name: a, notebook: other.ipynb}\n", "step 1 (a): base.yaml runs it with"),
    "dangling placeholder": ("extends: base.yaml\nname: c\nsteps:\n  - {name: b}\n", "placeholder {steps.a} is no step of this config"),
    "unknown parameter": ("extends: base.yaml\nname: c\nsteps:\n  - {name: a, parameters: {mesage: x}}\n", "has no parameter(s) mesage"),
}


@pytest.mark.parametrize("text, expected", EXTENDS_INVALID.values(), ids=EXTENDS_INVALID.keys())
def test_bad_extends_are_named(tmp_path: Path, text: str, expected: str) -> None:
    base_and_child(tmp_path, "name: unused\n")
    child = write_config(tmp_path, text, "child.yaml")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(child)


def test_extends_in_a_circle_is_refused(tmp_path: Path) -> None:
    write_config(tmp_path, "extends: two.yaml\nname: one\n", "one.yaml")
    write_config(tmp_path, "extends: one.yaml\nname: two\n", "two.yaml")
    with pytest.raises(ConfigError, match=re.escape("extends goes round in a circle: one.yaml -> two.yaml -> one.yaml")):
        load_config(tmp_path / "one.yaml")


def test_extends_finds_the_projects_configs_from_a_copy_elsewhere(tmp_path: Path) -> None:
    copy = write_config(tmp_path, "extends: demo.yaml\nname: mine\n", "mine.yaml")
    assert [step.name for step in load_config(copy).steps] == [step.name for step in load_config(ROOT / "configs" / "demo.yaml").steps]


# ---------------------------------------------------------------- run folders


def fake_run(folder: Path, digest: str, created: str, status: str = "completed") -> Path:
    folder.mkdir(parents=True)
    state = {"config_hash": digest, "config_file": "/elsewhere/other.yaml", "created": created, "steps": [{"status": status}]}
    (folder / "pipeline.json").write_text(json.dumps(state))
    return folder


def test_choose_folder_resumes_the_newest_run_of_the_same_config(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "name: tiny\nsteps: [{name: a, notebook: STEP}]\n"))
    results = tmp_path / "results"
    fake_run(results / "b-older", config.digest, "2026-11-20T00:00:00+00:00", "failed")
    newest = fake_run(results / "a-newer", config.digest, "2026-11-22T00:00:00+00:00", "failed")
    fake_run(results / "z-other", "0" * 64, "2026-11-23T00:00:00+00:00", "failed")
    assert choose_folder(config, results) == newest
    fresh = choose_folder(config, results, new=True)
    assert fresh.parent == results and fresh.name.endswith("-tiny") and not fresh.exists()


def test_run_dir_must_hold_the_same_config_or_nothing(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "name: tiny\nsteps: [{name: a, notebook: STEP}]\n"))
    other = fake_run(tmp_path / "other", "0" * 64, "2026-11-23T00:00:00+00:00")
    with pytest.raises(RunFolderError, match="holds a run of a different config"):
        choose_folder(config, tmp_path, run_dir=other)
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=r"holds files but no pipeline\.json"):
        choose_folder(config, tmp_path, run_dir=tmp_path / "stuff")
    assert choose_folder(config, tmp_path, run_dir=tmp_path / "new") == tmp_path / "new"


def test_a_run_folder_in_use_is_refused(tmp_path: Path) -> None:
    with locked(tmp_path / "run"), pytest.raises(RunFolderError, match="being run by another pipeline process"), locked(tmp_path / "run"):
        pass


def test_defaults_reach_every_step_whose_notebook_has_them_and_steps_win(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            """
name: tiny
defaults: {message: shared, counter: /tmp/count}
steps:
  - {name: first, notebook: STEP}
  - {name: second, notebook: STEP, parameters: {message: own}}
""",
        )
    )
    first, second = config.steps
    assert first.parameters == {"message": "shared", "counter": "/tmp/count"}
    assert second.parameters == {"message": "own", "counter": "/tmp/count"}


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        ("{nonsense: 1}", "defaults: no step's notebook has the parameter(s) nonsense"),
        ("{run_dir: x}", "defaults: 'run_dir' cannot be a default"),
        ("[1, 2]", "defaults must be a mapping"),
    ],
)
def test_bad_defaults_are_named(tmp_path: Path, defaults: str, expected: str) -> None:
    path = write_config(tmp_path, f"name: t\ndefaults: {defaults}\nsteps:\n  - {{name: a, notebook: STEP}}\n")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(path)


# ---------------------------------------------------------------- split seeds

SEEDED = """
name: seeded
defaults: {processed_dir: work/proc}
split_seeds: SEEDS
steps:
  - {name: prep, notebook: PREPARE}
  - {name: train, notebook: STEP, parameters: {upstream: "{steps.prep}", counter: "{run}/count"}}
  - {name: final, notebook: STEP, parameters: {message: "{seeds.train}"}}
"""


def seeded(tmp_path: Path, seeds: str = "[0, 1, 2]") -> Path:
    """Notebook 01's fixture, then two steps: ``train`` reads its seed's ``prep``, ``final`` lists every seed's ``train``."""
    return write_config(tmp_path, SEEDED.replace("SEEDS", seeds), "seeded.yaml")


def test_each_split_seed_gets_its_folder_seed_and_processed_dir(tmp_path: Path) -> None:
    config = load_config(seeded(tmp_path, "[4, 1]"))
    assert config.split_seeds == (4, 1) and config.steps[0].per_seed == ("seed", "processed_dir")
    run = tmp_path / "run"
    records = plan(config, run)
    assert [(r["seed"], r["name"]) for r in records] == [(4, "prep"), (4, "train"), (4, "final"), (1, "prep"), (1, "train"), (1, "final")]
    for seed, (prep, train, final) in zip((4, 1), (records[:3], records[3:])):
        folder = run / f"seed-{seed}"
        assert prep["parameters"] == {"run_dir": str(folder / "prep"), "processed_dir": f"work/proc/seed-{seed}", "seed": seed}
        assert train["parameters"] == {"run_dir": str(folder / "train"), "upstream": str(folder / "prep"), "counter": str(folder / "count")}
        assert (final["executed_notebook"], final["html"]) == (str(folder / "final.ipynb"), str(folder / "final.html"))
    assert records[2]["parameters"]["message"] == [str(run / "seed-4" / "train")]
    assert records[5]["parameters"]["message"] == [str(run / "seed-4" / "train"), str(run / "seed-1" / "train")]


def test_a_default_seed_gives_way_to_the_split_seed(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, SEEDED.replace("SEEDS", "[2]").replace("{processed_dir: work/proc}", "{processed_dir: work/proc, seed: 9}")))
    assert config.steps[0].parameters["seed"] == 9 and plan(config, tmp_path / "run")[0]["parameters"]["seed"] == 2


def test_without_split_seeds_records_and_digest_are_as_before(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, SEEDED.replace("split_seeds: SEEDS\n", "").replace("PREPARE", "STEP").replace("{processed_dir: work/proc}", "{}"))
    )
    assert config.split_seeds is None and {step.per_seed for step in config.steps} == {()}
    steps = [{"name": s.name, "notebook": s.notebook, "parameters": s.parameters} for s in config.steps]
    before = hashlib.sha256(json.dumps({"name": "seeded", "steps": steps}, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert config.digest == before
    (tmp_path / "run").mkdir()
    state = folders.start(config, tmp_path / "run")
    assert list(state) == ["name", "config_file", "config_hash", "created", "attempts", "steps"]
    records = state["steps"]
    assert all("seed" not in record for record in records) and records[1]["parameters"]["counter"] == str(tmp_path / "run" / "count")
    assert records[2]["parameters"]["message"] == [str(tmp_path / "run" / "train")]


def test_the_digest_follows_split_seeds(tmp_path: Path) -> None:
    digests = {load_config(seeded(tmp_path, seeds)).digest for seeds in ("[0, 1, 2]", "[0, 1]", "[1, 0]")}
    assert len(digests) == 3 and load_config(seeded(tmp_path)).digest in digests


SEED_ERRORS = {
    "empty list": ("[]", "split_seeds must be a non-empty list of distinct integers >= 0, e.g. [0, 1, 2], not []"),
    "no list": ("", "split_seeds must be a non-empty list of distinct integers >= 0, e.g. [0, 1, 2], not None"),
    "duplicate": ("[0, 1, 0]", "split_seeds: seed 0 is listed twice"),
    "negative": ("[0, -1]", "split_seeds[1] = -1: a split seed must be an integer >= 0"),
    "not an integer": ("[0, '1']", "split_seeds[1] = '1': a split seed must be an integer >= 0"),
    "a float": ("[1.5]", "split_seeds[0] = 1.5: a split seed must be an integer >= 0"),
    "a boolean": ("[true]", "split_seeds[0] = True: a split seed must be an integer >= 0"),
}


@pytest.mark.parametrize("seeds, expected", SEED_ERRORS.values(), ids=SEED_ERRORS.keys())
def test_bad_split_seeds_are_named(tmp_path: Path, seeds: str, expected: str) -> None:
    config = seeded(tmp_path, seeds)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: ") and expected in str(caught.value)


SEEDED_ERRORS = {
    "own seed for notebook 01": (
        ("{name: prep, notebook: PREPARE}", "{name: prep, notebook: PREPARE, parameters: {seed: 3}}"),
        "step 1 (prep): seed: 3 clashes with split_seeds, which gives notebook 01_prepare_dataset each split seed in turn; remove one of them",
    ),
    "no processed_dir": (
        ("defaults: {processed_dir: work/proc}\n", ""),
        "step 1 (prep): with split_seeds, set processed_dir to a folder (in defaults or the step): split seed k uses <processed_dir>/seed-k",
    ),
    "a run_dir every seed shares": (
        ('counter: "{run}/count"', 'counter: "{run}/count", run_dir: /tmp/shared'),
        "step 2 (train): run_dir '/tmp/shared' would be shared by every split seed; leave it out, or put it under {run} (the seed's folder)",
    ),
    "seeds inside a string": (
        ('"{seeds.train}"', '"{seeds.train}/x"'),
        'step 3 (final) parameter message: placeholder {seeds.train} stands for a list of folders, so it must be the whole value (message: "{seeds.train}")',
    ),
    "seeds inside a list": (('"{seeds.train}"', '["{seeds.train}"]'), "placeholder {seeds.train} stands for a list of folders"),
    "seeds of a later step": (
        ('"{steps.prep}"', '"{seeds.final}"'),
        "step 2 (train) parameter upstream: placeholder {seeds.final} runs later (step 3); a step can only use the folders of earlier steps: prep",
    ),
    "seeds of no step": (('"{seeds.train}"', '"{seeds.nope}"'), "placeholder {seeds.nope} is no step of this config"),
    "unknown kind": (('"{seeds.train}"', '"{seed.train}"'), "unknown placeholder {seed.train}; use {run} for the run folder"),
}


@pytest.mark.parametrize("change, expected", SEEDED_ERRORS.values(), ids=SEEDED_ERRORS.keys())
def test_invalid_seeded_configs_name_the_file_and_the_problem(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    config = write_config(tmp_path, SEEDED.replace("SEEDS", "[0, 1]").replace(*change), "seeded.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: ") and expected in str(caught.value)


def test_a_step_may_list_its_own_folders_over_the_seeds(tmp_path: Path) -> None:
    single = load_config(write_config(tmp_path, "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {message: '{seeds.a}'}}\n"))
    assert plan(single, tmp_path / "run")[0]["parameters"]["message"] == [str(tmp_path / "run" / "a")]
    seeded = load_config(write_config(tmp_path, SEEDED.replace("SEEDS", "[0, 1]").replace('"{seeds.train}"', '"{seeds.final}"'), "seeded.yaml"))
    last = plan(seeded, tmp_path / "run")[-1]["parameters"]["message"]
    assert last == [str(tmp_path / "run" / f"seed-{k}" / "final") for k in (0, 1)]  # the earlier seeds' folders, this one last
    with pytest.raises(ConfigError, match=re.escape("placeholder {steps.a} is this step itself")):
        load_config(write_config(tmp_path, "name: t\nsteps:\n  - {name: a, notebook: STEP, parameters: {message: '{steps.a}'}}\n", "own.yaml"))


def test_notebook_schemas_see_the_first_seeds_list(tmp_path: Path) -> None:
    text = "name: t\ndefaults: {processed_dir: work/proc}\nsplit_seeds: [0, 1]\nsteps:\n  - {name: prep, notebook: 01_prepare_dataset.ipynb}\n"
    listed = load_config(write_config(tmp_path, text + "  - {name: base, notebook: 02_baseline.ipynb, parameters: {levels: '{seeds.prep}'}}\n"))
    assert listed.steps[1].parameters["levels"] == "{seeds.prep}" and listed.steps[1].per_seed == ("processed_dir",)
    with pytest.raises(ConfigError, match=re.escape("parameter max_impostors = ['{seeds.prep}']: expected an integer >= 1")):
        load_config(write_config(tmp_path, text + "  - {name: base, notebook: 02_baseline.ipynb, parameters: {max_impostors: '{seeds.prep}'}}\n"))


def fake_notebooks(monkeypatch: pytest.MonkeyPatch, stop: str = "") -> list[str]:
    """Papermill, HTML export and provenance replaced by stand-ins; returns the ``seed-<k>/<step>`` executed, in order.

    The step named by ``stop`` is interrupted (KeyboardInterrupt) instead.
    """
    executed: list[str] = []

    def execute(notebook: str, output: str, parameters: dict[str, Any], **_: Any) -> None:
        assert Path(output).parent.is_dir()  # as papermill requires
        executed.append(f"{Path(output).parent.name}/{Path(output).stem}")
        if executed[-1] == stop:
            raise KeyboardInterrupt
        Path(parameters["run_dir"]).mkdir(parents=True, exist_ok=True)
        Path(output).write_text("{}")

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute)
    monkeypatch.setattr(runner, "export_html", lambda notebook, target: target.write_text("html"))
    monkeypatch.setattr(folders, "collect_in_child", lambda: {"versions": {"packages": {}}, "hardware": {"hostname": "here"}})
    return executed


def test_split_seeds_run_the_steps_seed_after_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    executed, results = fake_notebooks(monkeypatch), tmp_path / "results"
    assert main(["run", str(seeded(tmp_path)), "--results", str(results)]) == 0
    assert executed == [f"seed-{seed}/{step}" for seed in (0, 1, 2) for step in ("prep", "train", "final")]
    [run] = results.iterdir()
    assert sorted(p.name for p in run.iterdir()) == [
        ".pipeline.lock",
        "config.yaml",
        "hardware.json",
        "pipeline.json",
        "seed-0",
        "seed-1",
        "seed-2",
        "versions.json",
    ]
    for seed in (0, 1, 2):
        assert sorted(p.name for p in (run / f"seed-{seed}").iterdir()) == sorted(
            f"{s}{x}" for s in ("prep", "train", "final") for x in ("", ".ipynb", ".html")
        )
    state = json.loads((run / "pipeline.json").read_text())
    assert state["split_seeds"] == [0, 1, 2] and [(s["seed"], s["name"], s["status"]) for s in state["steps"]][3:5] == [
        (1, "prep", "completed"),
        (1, "train", "completed"),
    ]
    out = capsys.readouterr().out
    assert "3 steps (prep, train, final), once per split seed (0, 1, 2) in seed-<k>/" in out
    assert "[pipeline] seed 1 (2/3), step 2/3 train: started" in out and "all 9 steps (3 split seeds) completed" in out


def test_a_killed_seeded_run_resumes_after_its_last_completed_seed_and_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config, results = seeded(tmp_path), tmp_path / "results"
    fake_notebooks(monkeypatch, stop="seed-1/train")
    assert main(["run", str(config), "--results", str(results)]) == 130
    [run] = results.iterdir()
    state = json.loads((run / "pipeline.json").read_text())
    assert [s["status"] for s in state["steps"]] == ["completed"] * 4 + ["failed"] + ["pending"] * 4
    state["steps"][4]["status"] = "running"  # as a killed process leaves it
    (run / "pipeline.json").write_text(json.dumps(state))
    capsys.readouterr()

    executed = fake_notebooks(monkeypatch)
    assert main(["run", str(config), "--results", str(results)]) == 0
    assert executed == ["seed-1/train", "seed-1/final", "seed-2/prep", "seed-2/train", "seed-2/final"]
    out = capsys.readouterr().out
    assert (
        f"resuming {run}" in out and "skipping seed-0/prep, seed-0/train, seed-0/final, seed-1/prep; next: seed-1/train (it was interrupted last time)" in out
    )
    state = json.loads((run / "pipeline.json").read_text())
    assert [s["attempt"] for s in state["steps"]] == [1] * 4 + [2] * 5 and {s["status"] for s in state["steps"]} == {"completed"}
    assert state["steps"][-1]["parameters"]["message"] == [str(run / f"seed-{seed}" / "train") for seed in (0, 1, 2)]


@pytest.mark.e2e
def test_seeded_notebooks_run_in_their_seed_folders_with_their_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "collect_in_child", lambda: {"versions": {"packages": {}}, "hardware": {"hostname": "here"}})
    config = write_config(
        tmp_path, f"name: seeded\ndefaults: {{processed_dir: {tmp_path / 'proc'}}}\nsplit_seeds: [3, 1]\nsteps: [{{name: prep, notebook: PREPARE}}]\n"
    )
    assert main(["run", str(config), "--run-dir", str(tmp_path / "run")]) == 0
    for seed in (3, 1):
        split = {"seed": seed, "processed_dir": str(tmp_path / "proc" / f"seed-{seed}")}
        assert json.loads((tmp_path / "run" / f"seed-{seed}" / "prep" / "split.json").read_text()) == split
        assert json.loads((tmp_path / "proc" / f"seed-{seed}" / "split.json").read_text()) == split
        assert (tmp_path / "run" / f"seed-{seed}" / "prep.html").stat().st_size > 0


def test_the_recipe_study_runs_every_arm_of_its_grid_and_compares_them_all() -> None:
    """configs/recipes.yaml: the demo's recipe before the study (ArcFace, no jitter) as the base arm, all 8 arms of three
    ingredients, each recording its recipe, and notebook 05 comparing the pretrained model with every arm, with ORL as
    the check beyond LFW; the demo now runs val's choice, the jitter+adaface arm."""
    steps = {step.name: step.parameters for step in load_config(ROOT / "configs" / "recipes.yaml").steps}
    arms = [name for name in steps if name.startswith("03_finetune_pack.")]
    assert len(arms) == 8 and arms[0] == "03_finetune_pack.base" and arms[-1] == "03_finetune_pack.chain.jitter.adaface"
    demo = {step.name: step.parameters for step in load_config(ROOT / "configs" / "demo.yaml").steps}["03_finetune_pack"]
    before = {**demo, "loss": "arcface", "train_options": {k: v for k, v in demo["train_options"].items() if k != "align_jitter"}}
    assert {**steps["03_finetune_pack.base"], "model_name": demo["model_name"], "recipe": None} == {**before, "recipe": None}
    chosen = steps["03_finetune_pack.jitter.adaface"]
    assert {**chosen, "model_name": demo["model_name"], "recipe": None} == {**demo, "recipe": None}
    assert [steps[arm]["recipe"] for arm in arms[:4]] == [[], ["chain"], ["jitter"], ["adaface"]]
    assert steps["05_compare"]["models"] == ["{steps.02_baseline}", *(f"{{steps.{arm}}}" for arm in arms)]
    assert steps["05_compare"]["other_dataset"] == steps["01_prepare_orl"]["processed_dir"]


def test_the_leave_one_family_out_study_holds_out_each_family_once() -> None:
    """configs/recipes_lofo.yaml: the demo's recipe on every family, then without motion blur, JPEG or low light, each
    family with a level of its own to be judged at."""
    steps = {step.name: step.parameters for step in load_config(ROOT / "configs" / "recipes_lofo.yaml").steps}
    demo = {step.name: step.parameters for step in load_config(ROOT / "configs" / "demo.yaml").steps}["03_finetune_pack"]
    arms = {name.split(".", 1)[1]: parameters for name, parameters in steps.items() if name.startswith("03_finetune_pack.")}
    every = set(arms["every_family"]["train_options"]["lq_families"])
    assert every == {"resolution", "blur", "motion_blur", "noise", "jpeg", "light"}
    for family in ("motion_blur", "jpeg", "light"):
        arm = arms[f"no_{family}"]
        assert set(arm["train_options"]["lq_families"]) == every - {family} and arm["recipe"] == [f"no_{family}"]
        assert {**arm["train_options"], "lq_families": None} == {**demo["train_options"], "lq_families": None}  # align_jitter too
        same = {"train_options": None, "model_name": None, "recipe": None, "processed_dir": None}
        assert {**arm, **same} == {**demo, **same}
    levels = steps["01_prepare_dataset"]["levels"].values()
    assert {"motion_length", "jpeg_quality", "light"} <= {key for level in levels for key in level}
    assert steps["05_compare"]["models"] == ["{steps.02_baseline}", *(f"{{steps.03_finetune_pack.{arm}}}" for arm in arms)]


def test_the_follow_ups_start_from_the_demos_recipe_and_change_one_thing_an_arm() -> None:
    """configs/recipes_followup.yaml: its base arm is the demo's recipe exactly; each other arm changes one setting."""
    steps = {step.name: step.parameters for step in load_config(ROOT / "configs" / "recipes_followup.yaml").steps}
    demo = {step.name: step.parameters for step in load_config(ROOT / "configs" / "demo.yaml").steps}["03_finetune_pack"]
    arms = {name.split(".", 1)[1]: parameters for name, parameters in steps.items() if name.startswith("03_finetune_pack.")}
    assert list(arms) == ["base", "acquired", "no_distill", "distill5", "distill50", "long"]
    assert {**arms["base"], "model_name": demo["model_name"], "recipe": None} == {**demo, "recipe": None}
    changed = {arm: {key for key in demo if arms[arm][key] != demo[key]} - {"model_name", "recipe"} for arm in arms}
    weights = {arm: {"distill_weight"} for arm in ("no_distill", "distill5", "distill50")}
    assert changed == {"base": set(), "acquired": {"train_options"}, **weights, "long": {"epochs"}}
    assert arms["acquired"]["train_options"] == {**demo["train_options"], "align_jitter": False, "e2e_train_copies": 2}
    assert steps["05_compare"]["other_dataset"] == steps["01_prepare_orl"]["processed_dir"]
