"""One pinned set of requirements, one ONNX Runtime, clean notebooks."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_environment_yml_installs_the_pip_pins() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert pip_section == ["-r requirements.txt"]
    python = next(item for item in env["dependencies"] if isinstance(item, str) and item.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}" or python == "python=3.11"


def test_installed_versions_match_the_pins() -> None:
    lines = [line.split(";")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = dict(line.replace("===", "==").split("==") for line in lines if line and not line.startswith("#"))
    onnxruntime_build = "onnxruntime-gpu" if sys.platform == "linux" and platform.machine() == "x86_64" else "onnxruntime"
    for name, version in pins.items():
        if name.startswith("onnxruntime") and name != onnxruntime_build:
            continue
        assert metadata.version(name) == version, name


def test_exactly_one_onnxruntime_is_installed() -> None:
    runtimes = {dist.metadata["Name"].lower() for dist in metadata.distributions() if dist.metadata["Name"].lower().startswith("onnxruntime")}
    assert len(runtimes) == 1, runtimes


def test_torchvision_imports_with_its_compiled_ops() -> None:
    import torch
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], dtype=torch.float32)
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]


def test_notebooks_in_git_carry_no_outputs() -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        assert not [c for c in cells if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))], path.name
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), f"{path.name} has no parameters cell"


@pytest.mark.e2e
def test_a_built_wheel_carries_every_subpackage(tmp_path: Path) -> None:
    """A non-editable install gets the whole package tree, not only ``helpers/__init__.py`` (built from a copy: no build files land here)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "helpers", source / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(tmp_path), str(source)]
    subprocess.run(command, check=True, cwd=tmp_path, timeout=300)
    [wheel] = tmp_path.glob("lqface_workbench-*.whl")
    packaged = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("helpers/")}
    expected = {path.relative_to(ROOT).as_posix() for path in (ROOT / "helpers").rglob("*.py")}
    assert expected <= packaged and "helpers/training/__main__.py" in packaged


def test_papermill_reads_every_parameter_of_every_notebook() -> None:
    """papermill's parser (which the pipeline checks configs against) must see each name the parameters cell assigns;
    an '=' inside a comment, for one, makes it skip the line."""
    import ast

    import papermill as pm

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cell = next(c for c in json.loads(path.read_text())["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        assigned = [target.id for node in ast.parse("".join(cell["source"])).body for target in getattr(node, "targets", [])]
        assert list(pm.inspect_notebook(str(path))) == assigned, path.name


def test_the_readme_fits_a_screen() -> None:
    """Under 8 kB; its first screen holds the two commands, a headline of at most three rows naming models for
    people, one plot and the link to every number (the headline is written by ``python -m helpers.pipeline.readme``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) < 8 * 1024
    first_screen = "\n".join(text.splitlines()[:45])
    assert "make demo   #" in first_screen and "make test   #" in first_screen
    headline = first_screen.split("<!-- demo-headline:start -->")[1].split("<!-- demo-headline:end -->")[0]
    rows = [line for line in headline.splitlines() if line.startswith("| ")]
    assert 2 <= len(rows) - 1 <= 3 and "pretrained" in rows[0] and "fine-tuned for low quality" in rows[0]
    assert headline.count("![") == 1 and "(docs/demo.md)" in headline
