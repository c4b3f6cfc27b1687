"""Notebook parameters are checked before any work: a bad value stops with one line naming it and what is allowed."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.core.parameters import ParameterError
from helpers.data.degrade import Degradation
from helpers.pipeline.config import ConfigError, load_config
from helpers.pipeline.parameters import LEVEL_FIELDS, SCHEMAS, check_notebook, check_step

ROOT = Path(__file__).resolve().parents[2]


def notebook_defaults(name: str) -> dict[str, Any]:
    """The values of a notebook's parameters cell."""
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    [cell] = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse("".join(cell["source"])).body}


FOLDERS = ("baseline_dir", "model_dir", "models", "identification")
"""Parameters naming an earlier notebook's step folder: by hand, the folder that notebook writes (``results/notebooks/...``)."""


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_notebook_parameter_has_a_spec_and_the_defaults_pass(name: str, tmp_path: Path) -> None:
    """The defaults pass once the data and the earlier notebooks' folders they name exist (here: stand-ins)."""
    defaults = notebook_defaults(name)
    assert set(defaults) == set(SCHEMAS[name])
    step = tmp_path / "step"
    step.mkdir()
    (step / "metrics.json").write_text("{}")
    ran = {key: [str(step)] * len(value) if isinstance(value, list) else str(step) for key, value in defaults.items() if key in FOLDERS}
    check_notebook(name, defaults | ran | ({"dataset": "orl"} if name == "01_prepare_dataset" else {}))


@pytest.mark.parametrize(
    ("name", "key"), [("03_finetune", "baseline_dir"), ("04_identify", "model_dir"), ("05_compare", "models"), ("05_compare", "identification")]
)
def test_a_step_folder_not_yet_written_says_which_notebook_to_run(name: str, key: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    value = [missing, missing] if key == "models" else [missing] if key == "identification" else missing
    with pytest.raises(ParameterError, match=re.escape("holds no metrics.json; run notebook 0")):
        check_notebook(name, notebook_defaults(name) | {key: value})
    if key == "model_dir":
        with pytest.raises(ParameterError, match=re.escape("model_dir = '': is empty; run notebook 02 or 03 first")):
            check_notebook(name, notebook_defaults(name) | {key: ""})


def test_level_fields_are_the_degradations() -> None:
    assert set(LEVEL_FIELDS) == {field for field in Degradation.__dataclass_fields__ if field != "name"}


@pytest.mark.parametrize(
    ("notebook", "values", "message"),
    [
        ("01_prepare_dataset", {"min_images": "two"}, "min_images = 'two': expected an integer >= 1"),
        ("01_prepare_dataset", {"seed": "abc"}, "seed = 'abc': expected an integer >= 0"),
        ("01_prepare_dataset", {"max_images": 0}, "max_images = 0: expected None or an integer >= 1"),
        ("01_prepare_dataset", {"max_identities": 1}, "max_identities = 1: expected None or an integer >= 2"),
        ("01_prepare_dataset", {"levels": {"px16": {"resolution": "sixteen"}}}, "levels.px16.resolution = 'sixteen': expected an integer >= 4 and <= 112"),
        ("01_prepare_dataset", {"levels": {"px16": {"resoluton": 16}}}, "levels.px16: unknown key 'resoluton'; allowed: resolution"),
        ("01_prepare_dataset", {"levels": {"px16": {"resoluton": 16}}}, "did you mean 'resolution'?"),
        ("01_prepare_dataset", {"levels": [16, 200]}, "levels[1] = 200: expected an integer >= 4 and <= 112"),
        (
            "01_prepare_dataset",
            {"split_fractions": {"train": 0.7, "val": 0.2, "test": 0.2}},
            "split_fractions = {'train': 0.7, 'val': 0.2, 'test': 0.2}: the shares must sum to 1",
        ),
        ("01_prepare_dataset", {"split_fractions": {"train": 1.0}}, "split_fractions: missing key(s) val, test"),
        ("01_prepare_dataset", {"no_face_policy": "drop"}, "no_face_policy = 'drop': expected one of exclude, centre_crop"),
        ("01_prepare_dataset", {"dataset": "lfww"}, "dataset = 'lfww': no dataset named 'lfww' and no such folder"),
        ("01_prepare_dataset", {"dataset": "lfww"}, "did you mean 'lfw'?"),
        ("01_prepare_dataset", {"det_threshold": 0}, "det_threshold = 0: expected a number > 0 and <= 1"),
        ("02_baseline", {"max_impostors": "lots"}, "max_impostors = 'lots': expected an integer >= 1"),
        ("05_compare", {"primary_statistic": "tar@1e-5"}, "primary_statistic = 'tar@1e-5': expected one of auc, eer"),
        ("02_baseline", {"pack": "ofline"}, "pack = 'ofline': no pack named 'ofline' and no such folder"),
        ("02_baseline", {"pack": "ofline"}, "did you mean 'offline'?"),
        ("02_baseline", {"flip": "yes"}, "flip = 'yes': expected true or false"),
        ("03_finetune", {"loss": "arcfce"}, "loss = 'arcfce': expected one of arcface, cosface, adaface, softmax, triplet; did you mean 'arcface'?"),
        ("03_finetune", {"lq_prob": 1.5}, "lq_prob = 1.5: expected a number >= 0 and <= 1"),
        ("03_finetune", {"train_options": {"embeding_size": 256}}, "unknown training setting 'embeding_size'; did you mean 'embedding_size'?"),
        ("05_compare", {"models": ["only/one"]}, "models = ['only/one']: expected a list of at least 2 items, each a step folder of notebook 02 or 03"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(notebook: str, values: dict, message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        check_step(notebook, values)
    assert message in str(caught.value)
    assert str(caught.value).count("\n") == 0


def test_a_dataset_path_that_is_a_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        check_step("01_prepare_dataset", {"dataset": str(tmp_path / "photo.jpg")})
    check_step("01_prepare_dataset", {"dataset": str(tmp_path)})


def test_the_notebook_check_names_the_notebook() -> None:
    with pytest.raises(ParameterError, match=r"^notebook 02_baseline: parameter n_boot = 0: expected an integer >= 1$"):
        check_notebook("02_baseline", notebook_defaults("02_baseline") | {"n_boot": 0})


def test_the_pipeline_refuses_a_bad_value_before_any_notebook_runs(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\nsteps:\n  - {name: base, notebook: 02_baseline.ipynb, parameters: {max_impostors: lots}}\n")
    with pytest.raises(ConfigError, match=r"step 1 \(base\): parameter max_impostors = 'lots': expected an integer >= 1"):
        load_config(config)


GUIDES = {name: next((ROOT / "docs").glob(f"{name[:2]}_*.md")).name for name in SCHEMAS if name != "06_try_it"}


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_every_default_a_notebooks_guide_gives_is_the_notebooks_own(name: str) -> None:
    """docs/<notebook>.md's parameter table has a row per parameter, and a default written as one literal
    (| `name` | `default` | meaning |) is what the parameters cell holds."""
    guide = ROOT / "docs" / GUIDES[name]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", guide.read_text(), re.MULTILINE))
    defaults = notebook_defaults(name)
    assert set(defaults) <= set(rows), f"{guide.name} lacks rows for {sorted(set(defaults) - set(rows))}"
    literals = {key: ast.literal_eval(cell[1:-1]) for key, cell in rows.items() if key in defaults and re.fullmatch(r"`[^`]*`", cell)}
    assert literals == {key: defaults[key] for key in literals}, guide.name
