"""The package's layers: no import runs up them, and the maps that describe them (package docstrings, docs) match the code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPERS = ROOT / "helpers"
CONTRACT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"][0]


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def layer_names() -> list[str]:
    """Every sub-package and top-level module the contract places, top layer first."""
    return [name.strip() for layer in CONTRACT["layers"] for name in layer.split("|")]


def test_no_module_imports_from_a_higher_layer() -> None:
    """import-linter reads every import, those inside functions too, and checks them against the contract in pyproject.toml."""
    run = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", "pyproject.toml", "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{CONTRACT['name']} KEPT" in run.stdout


def test_every_sub_package_and_module_sits_in_a_layer() -> None:
    placed = set(layer_names())
    found = {path.name for path in HELPERS.iterdir() if (path / "__init__.py").is_file()}
    found |= {path.stem for path in HELPERS.glob("*.py")} - {"__init__", "__main__"}
    assert found == placed and CONTRACT["exhaustive"] is True


def test_each_package_map_lists_its_modules() -> None:
    """Each sub-package's docstring names every module in it (``name.py``), and nothing that is not there."""
    for package in sorted(path.parent for path in HELPERS.glob("*/__init__.py")):
        modules = {path.name for path in package.glob("*.py")} - {"__init__.py"}
        named = set(re.findall(r"^\s*(\w+\.py)\s", docstring(package / "__init__.py"), re.M))
        assert named == modules, f"{package.name}/__init__.py: lists {sorted(named - modules)} that are not there, omits {sorted(modules - named)}"


def test_the_top_map_lists_the_layers_bottom_up() -> None:
    """``helpers/__init__.py`` names every layer, bottom first (siblings of one layer in either order)."""
    listed = re.findall(r"^\s*(\w+)(?:/|\.py)\s", docstring(HELPERS / "__init__.py"), re.M)
    rank = {name.strip(): height for height, layer in enumerate(reversed(CONTRACT["layers"])) for name in layer.split("|")}
    assert sorted(listed) == sorted(rank) and [rank[name] for name in listed] == sorted(rank[name] for name in listed)


def test_the_development_guide_states_the_contract() -> None:
    guide = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    block = "\n".join(CONTRACT["layers"])
    assert f"```text\n{block}\n```" in guide, "docs/development.md must show the layers exactly as pyproject.toml's import-linter contract"
